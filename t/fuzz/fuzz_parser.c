/*
 * libFuzzer target for the GraphQL parser.  The whole input is parsed; its
 * first byte only picks the limits.  Successful parses are walked and
 * checked (strings NUL-terminated and valid UTF-8, names non-empty,
 * definitions in source order); errors must carry a message and location.
 * A document that parses is also built as a schema (fql_schema_build).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fql_schema.h"


#define fuzz_check(c)  do { if (!(c)) abort(); } while (0)


static void fuzz_value(const fql_value_t *v, unsigned depth);


/* an independent UTF-8 check: no overlongs, surrogates or > U+10FFFF */

static int
fuzz_utf8(const char *s, size_t len)
{
    const unsigned char  *p, *end;
    uint32_t              cp;
    size_t                n, i;

    p = (const unsigned char *) s;
    end = p + len;

    while (p < end) {
        if (*p < 0x80) {
            p++;
            continue;
        }

        if ((*p & 0xE0) == 0xC0) {
            n = 2;
            cp = *p & 0x1F;

        } else if ((*p & 0xF0) == 0xE0) {
            n = 3;
            cp = *p & 0x0F;

        } else if ((*p & 0xF8) == 0xF0) {
            n = 4;
            cp = *p & 0x07;

        } else {
            return 0;
        }

        if ((size_t) (end - p) < n) {
            return 0;
        }

        for (i = 1; i < n; i++) {
            if ((p[i] & 0xC0) != 0x80) {
                return 0;
            }

            cp = (cp << 6) | (p[i] & 0x3F);
        }

        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800)
            || (n == 4 && cp < 0x10000) || cp > 0x10FFFF
            || (cp >= 0xD800 && cp <= 0xDFFF))
        {
            return 0;
        }

        p += n;
    }

    return 1;
}


static void
fuzz_name(fql_str_t s)
{
    fuzz_check(s.data != NULL && s.len > 0);
}


static void
fuzz_string(fql_str_t s)
{
    fuzz_check(s.data != NULL);
    fuzz_check(s.data[s.len] == '\0');
    fuzz_check(fuzz_utf8(s.data, s.len));
}


static void
fuzz_desc(fql_str_t s)
{
    if (s.data) {
        fuzz_string(s);
    }
}


static void
fuzz_loc(fql_loc_t loc)
{
    fuzz_check(loc.line >= 1 && loc.column >= 1);
}


static void
fuzz_type(const fql_type_ref_t *t, unsigned depth)
{
    fuzz_check(depth < 1000);
    fuzz_loc(t->loc);

    if (t->kind == FQL_TYPE_NAMED) {
        fuzz_name(t->name);
        return;
    }

    fuzz_check(t->of != NULL);
    fuzz_check(t->kind != FQL_TYPE_NON_NULL
               || t->of->kind != FQL_TYPE_NON_NULL);
    fuzz_type(t->of, depth + 1);
}


static void
fuzz_args(const fql_argument_t *a, unsigned depth)
{
    for ( ; a; a = a->next) {
        fuzz_name(a->name);
        fuzz_loc(a->loc);
        fuzz_value(a->value, depth);
    }
}


static void
fuzz_dirs(const fql_directive_t *d, unsigned depth)
{
    for ( ; d; d = d->next) {
        fuzz_name(d->name);
        fuzz_loc(d->loc);
        fuzz_args(d->args, depth);
    }
}


static void
fuzz_value(const fql_value_t *v, unsigned depth)
{
    const fql_value_t         *i;
    const fql_object_field_t  *f;

    fuzz_check(v != NULL && depth < 1000);
    fuzz_loc(v->loc);

    switch (v->kind) {

    case FQL_VAL_STRING:
        fuzz_string(v->str);
        break;

    case FQL_VAL_LIST:
        for (i = v->items; i; i = i->next) {
            fuzz_value(i, depth + 1);
        }
        break;

    case FQL_VAL_OBJECT:
        for (f = v->fields; f; f = f->next) {
            fuzz_name(f->name);
            fuzz_value(f->value, depth + 1);
        }
        break;

    case FQL_VAL_NULL:
    case FQL_VAL_BOOLEAN:
        break;

    default:
        fuzz_name(v->str);
    }
}


static void
fuzz_sels(const fql_selection_t *s, unsigned depth)
{
    fuzz_check(depth < 1000);

    for ( ; s; s = s->next) {
        fuzz_loc(s->loc);
        fuzz_dirs(s->directives, depth);

        switch (s->kind) {

        case FQL_SEL_FIELD:
            fuzz_name(s->name);
            fuzz_args(s->args, depth);
            fuzz_sels(s->selections, depth + 1);
            break;

        case FQL_SEL_SPREAD:
            fuzz_name(s->name);
            fuzz_check(s->selections == NULL);
            break;

        case FQL_SEL_INLINE:
            fuzz_check(s->selections != NULL);
            fuzz_sels(s->selections, depth + 1);
            break;
        }
    }
}


static void
fuzz_ivdefs(const fql_input_value_def_t *iv)
{
    for ( ; iv; iv = iv->next) {
        fuzz_desc(iv->description);
        fuzz_name(iv->name);
        fuzz_type(iv->type, 0);
        fuzz_dirs(iv->directives, 0);

        if (iv->default_value) {
            fuzz_value(iv->default_value, 0);
        }
    }
}


static void
fuzz_definition(const fql_definition_t *d)
{
    const fql_variable_def_t    *v;
    const fql_field_def_t       *f;
    const fql_enum_value_def_t  *e;
    const fql_root_op_t         *r;
    const fql_name_list_t       *n;

    fuzz_loc(d->loc);
    fuzz_desc(d->description);
    fuzz_dirs(d->directives, 0);

    for (v = d->variables; v; v = v->next) {
        fuzz_name(v->name);
        fuzz_type(v->type, 0);
        fuzz_dirs(v->directives, 0);

        if (v->default_value) {
            fuzz_value(v->default_value, 0);
        }
    }

    if (d->kind == FQL_DEF_OPERATION || d->kind == FQL_DEF_FRAGMENT) {
        fuzz_check(d->selections != NULL);
        fuzz_check(d->description.data == NULL);
    }

    fuzz_sels(d->selections, 0);

    for (f = d->fields; f; f = f->next) {
        fuzz_desc(f->description);
        fuzz_name(f->name);
        fuzz_ivdefs(f->args);
        fuzz_type(f->type, 0);
        fuzz_dirs(f->directives, 0);
    }

    fuzz_ivdefs(d->input_fields);

    for (e = d->values; e; e = e->next) {
        fuzz_desc(e->description);
        fuzz_name(e->name);
        fuzz_check(!fql_str_eqz(e->name, "true")
                   && !fql_str_eqz(e->name, "false")
                   && !fql_str_eqz(e->name, "null"));
        fuzz_dirs(e->directives, 0);
    }

    for (r = d->root_ops; r; r = r->next) {
        fuzz_name(r->type_name);
    }

    for (n = d->interfaces; n; n = n->next) {
        fuzz_name(n->name);
    }

    for (n = d->members; n; n = n->next) {
        fuzz_name(n->name);
    }

    for (n = d->locations; n; n = n->next) {
        fuzz_name(n->name);
    }
}


/*
 * fql_schema_build (the directive checks of fql_sdl.c, @json keys...):
 * a schema, or an error with a message.
 */
static void
fuzz_schema(const uint8_t *data, size_t size)
{
    fql_arena_t        *a;
    fql_schema_t       *s;
    fql_parse_error_t   err;

    a = fql_arena_heap_create();
    if (a == NULL) {
        return;
    }

    s = NULL;

    if (fql_schema_build(a, (const char *) data, size, &s, &err) == 0) {
        fuzz_check(s != NULL && s->query != NULL);

    } else {
        fuzz_check(err.message[0] != '\0');
        fuzz_check(memchr(err.message, '\0', sizeof(err.message)) != NULL);
    }

    fql_arena_heap_destroy(a);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fql_arena_t             *a;
    fql_document_t          *doc;
    int                      doc_ok;
    const fql_definition_t  *d, *prev;
    fql_parse_error_t        err;
    fql_parse_limits_t       lim;

    lim.max_depth = 0;
    lim.max_tokens = 0;

    /* mostly defaults; sometimes tight limits */

    if (size > 0) {
        switch (data[0] & 7) {
        case 1:
            lim.max_depth = 1 + (data[0] >> 5);
            break;
        case 2:
            lim.max_tokens = 1 + (data[0] >> 3);
            break;
        case 3:
            lim.max_depth = 2;
            lim.max_tokens = 64;
            break;
        }
    }

    a = fql_arena_heap_create();
    if (a == NULL) {
        return 0;
    }

    doc_ok = fql_parse_document(a, (const char *) data, size, &lim, &doc,
                                &err) == 0;

    if (doc_ok) {
        fuzz_check(doc != NULL && doc->definitions != NULL);

        prev = NULL;

        for (d = doc->definitions; d; d = d->next) {
            fuzz_definition(d);

            if (prev) {
                fuzz_check(d->loc.line > prev->loc.line
                           || (d->loc.line == prev->loc.line
                               && d->loc.column > prev->loc.column));
            }

            prev = d;
        }

    } else {
        fuzz_check(err.message[0] != '\0');
        fuzz_check(memchr(err.message, '\0', sizeof(err.message)) != NULL);
        fuzz_check(fuzz_utf8(err.message, strlen(err.message)));
        fuzz_loc(err.loc);
    }

    fql_arena_heap_destroy(a);

    /* a document that parses is also tried as a schema file */
    if (doc_ok && lim.max_depth == 0 && lim.max_tokens == 0) {
        fuzz_schema(data, size);
    }

    return 0;
}
