/*
 * The rules graphql-js's buildSchema checks about the directives a schema
 * file uses (the spec's "Directives Are Defined", "Directives Are In Valid
 * Locations", "Directives Are Unique Per Location", argument names and
 * required arguments), in graphql-js's words: a misspelt directive is a
 * configuration error, never silently ignored.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fql_schema.h"


typedef struct {
    const fql_schema_t        *schema;
    const fql_definition_t    *defs;
    unsigned                   extensions;  /* the file extends types */
    fql_parse_error_t         *err;
} fql_dc_t;


static int fql_dc_error(fql_dc_t *dc, fql_loc_t loc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;


static int
fql_dc_error(fql_dc_t *dc, fql_loc_t loc, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    vsnprintf(dc->err->message, sizeof(dc->err->message), fmt, args);
    va_end(args);

    dc->err->loc = loc;

    return -1;
}


static const fql_directive_def_t *
fql_dc_def(const fql_schema_t *s, fql_str_t name)
{
    const fql_directive_def_t  *def;

    for (def = s->directives; def; def = def->next) {
        if (fql_str_eq(def->name, name)) {
            return def;
        }
    }

    return NULL;
}


/* the longest names suggestions are looked for (longer: none) */
#define FQL_DC_NAME_MAX  64


static int
fql_dc_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}


/*
 * graphql-js's lexical distance (suggestionList): the optimal string
 * alignment distance of the lower-cased names, 1 when only case differs;
 * -1 when over threshold.
 */
static int
fql_dc_distance(fql_str_t input, fql_str_t option, int threshold)
{
    int        rows[3][FQL_DC_NAME_MAX + 1];
    int        cell, smallest, cost;
    size_t     i, j;
    fql_str_t  a, b;

    if (fql_str_eq(input, option)) {
        return 0;
    }

    a = option.len >= input.len ? option : input;
    b = option.len >= input.len ? input : option;

    if (a.len > FQL_DC_NAME_MAX || (int) (a.len - b.len) > threshold) {
        return -1;
    }

    for (j = 0; j <= b.len; j++) {
        rows[0][j] = j;
    }

    for (i = 1; i <= a.len; i++) {
        smallest = rows[i % 3][0] = i;

        for (j = 1; j <= b.len; j++) {
            cost = fql_dc_lower(a.data[i - 1]) != fql_dc_lower(b.data[j - 1]);
            cell = rows[(i - 1) % 3][j] + 1;

            if (rows[i % 3][j - 1] + 1 < cell) {
                cell = rows[i % 3][j - 1] + 1;
            }

            if (rows[(i - 1) % 3][j - 1] + cost < cell) {
                cell = rows[(i - 1) % 3][j - 1] + cost;
            }

            if (i > 1 && j > 1
                && fql_dc_lower(a.data[i - 1]) == fql_dc_lower(b.data[j - 2])
                && fql_dc_lower(a.data[i - 2]) == fql_dc_lower(b.data[j - 1])
                && rows[(i - 2) % 3][j - 2] + 1 < cell)
            {
                cell = rows[(i - 2) % 3][j - 2] + 1;
            }

            if (cell < smallest) {
                smallest = cell;
            }

            rows[i % 3][j] = cell;
        }

        if (smallest > threshold) {
            return -1;
        }
    }

    cell = rows[a.len % 3][b.len];

    /* the same letters in another case */
    if (cell == 0) {
        return 1;
    }

    return cell <= threshold ? cell : -1;
}


static int
fql_dc_cmp(fql_str_t a, fql_str_t b)
{
    int  c;

    c = memcmp(a.data, b.data, a.len < b.len ? a.len : b.len);

    return c ? c : (a.len > b.len) - (a.len < b.len);
}


/*
 * graphql-js's didYouMean of the arguments a directive declares, nearest
 * first (then by name), at most five: " Did you mean "a", "b", or "c"?"
 */
static void
fql_dc_suggest(fql_str_t input, const fql_arg_t *args, char *buf,
    size_t size)
{
    int               d, best[5];
    size_t            n, i, len;
    const fql_arg_t  *a, *pick[5];

    n = 0;

    for (a = args; a; a = a->next) {
        d = fql_dc_distance(input, a->name, (int) (input.len * 4 / 10) + 1);
        if (d < 0) {
            continue;
        }

        /* insertion into the five best, by distance then by name */
        for (i = n; i > 0; i--) {
            if (best[i - 1] < d
                || (best[i - 1] == d
                    && fql_dc_cmp(pick[i - 1]->name, a->name) <= 0))
            {
                break;
            }

            if (i < 5) {
                best[i] = best[i - 1];
                pick[i] = pick[i - 1];
            }
        }

        if (i < 5) {
            best[i] = d;
            pick[i] = a;
            n += n < 5;
        }
    }

    buf[0] = '\0';

    if (n == 0) {
        return;
    }

    len = snprintf(buf, size, " Did you mean");

    for (i = 0; i < n && len < size; i++) {
        len += snprintf(buf + len, size - len, "%s\"%.*s\"",
                        i == 0 ? " "
                        : n == 2 ? " or "
                        : i == n - 1 ? ", or " : ", ",
                        fql_pstr(pick[i]->name));
    }

    if (len < size) {
        snprintf(buf + len, size - len, "?");
    }
}


/* arguments known and given once each, the required ones present */
static int
fql_dc_args(fql_dc_t *dc, const fql_directive_t *d,
    const fql_directive_def_t *def)
{
    char             type[256];
    fql_arg_t       *da;
    fql_argument_t  *a, *b;

    for (a = d->args; a; a = a->next) {
        if (fql_arg_find(def->args, a->name) == NULL) {
            fql_dc_suggest(a->name, def->args, type, sizeof(type));

            return fql_dc_error(dc, a->loc, "Unknown argument \"%.*s\" on "
                                "directive \"@%.*s\".%s", fql_pstr(a->name),
                                fql_pstr(d->name), type);
        }

        for (b = d->args; b != a; b = b->next) {
            if (fql_str_eq(a->name, b->name)) {
                return fql_dc_error(dc, a->loc, "There can be only one "
                                    "argument named \"%.*s\".",
                                    fql_pstr(a->name));
            }
        }
    }

    for (da = def->args; da; da = da->next) {
        if (da->type->kind != FQL_TYPE_NON_NULL || da->default_value) {
            continue;
        }

        for (a = d->args; a; a = a->next) {
            if (fql_str_eq(a->name, da->name)) {
                break;
            }
        }

        if (a == NULL) {
            fql_tref_print(da->type, type, sizeof(type));

            return fql_dc_error(dc, d->loc, "Directive \"@%.*s\" argument "
                                "\"%.*s\" of type \"%s\" is required, but "
                                "it was not provided.", fql_pstr(d->name),
                                fql_pstr(da->name), type);
        }
    }

    return 0;
}


static int
fql_dc_once(fql_dc_t *dc, const fql_directive_t *d,
    const fql_directive_t *others, const fql_directive_t *stop)
{
    const fql_directive_t  *e;

    for (e = others; e && e != stop; e = e->next) {
        if (fql_str_eq(e->name, d->name)) {
            return fql_dc_error(dc, d->loc, "The directive \"@%.*s\" can "
                                "only be used once at this location.",
                                fql_pstr(d->name));
        }
    }

    return 0;
}


/*
 * A type (or the schema) and its extensions are one location: an earlier
 * definition of the same one holding the directive is a repeat.
 */
static int
fql_dc_once_across(fql_dc_t *dc, const fql_definition_t *def,
    const fql_directive_t *d)
{
    const fql_definition_t  *o;

    /* without extensions, a name has one definition: nothing to scan */
    if (!dc->extensions) {
        return 0;
    }

    for (o = dc->defs; o && o != def; o = o->next) {
        if (o->kind != def->kind
            || (def->kind != FQL_DEF_SCHEMA
                && !fql_str_eq(o->name, def->name)))
        {
            continue;
        }

        if (fql_dc_once(dc, d, o->directives, NULL) != 0) {
            return -1;
        }
    }

    return 0;
}


static int
fql_dc_list(fql_dc_t *dc, const fql_directive_t *dirs, const char *location,
    const fql_definition_t *def)
{
    const fql_name_list_t      *l;
    const fql_directive_t      *d;
    const fql_directive_def_t  *dd;

    for (d = dirs; d; d = d->next) {
        dd = fql_dc_def(dc->schema, d->name);
        if (dd == NULL) {
            return fql_dc_error(dc, d->loc, "Unknown directive \"@%.*s\".",
                                fql_pstr(d->name));
        }

        for (l = dd->locations; l; l = l->next) {
            if (fql_str_eqz(l->name, location)) {
                break;
            }
        }

        if (l == NULL) {
            return fql_dc_error(dc, d->loc, "Directive \"@%.*s\" may not be "
                                "used on %s.", fql_pstr(d->name), location);
        }

        if (!dd->repeatable
            && (fql_dc_once(dc, d, dirs, d) != 0
                || (def && fql_dc_once_across(dc, def, d) != 0)))
        {
            return -1;
        }

        if (fql_dc_args(dc, d, dd) != 0) {
            return -1;
        }
    }

    return 0;
}


static int
fql_dc_inputs(fql_dc_t *dc, const fql_input_value_def_t *iv,
    const char *location)
{
    for ( /* void */ ; iv; iv = iv->next) {
        if (fql_dc_list(dc, iv->directives, location, NULL) != 0) {
            return -1;
        }
    }

    return 0;
}


static const char *
fql_dc_location(fql_definition_kind_t kind)
{
    switch (kind) {
    case FQL_DEF_SCHEMA:       return "SCHEMA";
    case FQL_DEF_SCALAR:       return "SCALAR";
    case FQL_DEF_OBJECT:       return "OBJECT";
    case FQL_DEF_INTERFACE:    return "INTERFACE";
    case FQL_DEF_UNION:        return "UNION";
    case FQL_DEF_ENUM:         return "ENUM";
    case FQL_DEF_INPUT_OBJECT: return "INPUT_OBJECT";
    default:                   return NULL;
    }
}


static int
fql_dc_definition(fql_dc_t *dc, const fql_definition_t *def)
{
    const char                  *location;
    const fql_field_def_t       *f;
    const fql_enum_value_def_t  *ev;

    if (def->kind == FQL_DEF_DIRECTIVE) {
        return fql_dc_inputs(dc, def->input_fields, "ARGUMENT_DEFINITION");
    }

    location = fql_dc_location(def->kind);
    if (location == NULL) {
        return 0;
    }

    if (fql_dc_list(dc, def->directives, location, def) != 0) {
        return -1;
    }

    for (f = def->fields; f; f = f->next) {
        if (fql_dc_list(dc, f->directives, "FIELD_DEFINITION", NULL) != 0
            || fql_dc_inputs(dc, f->args, "ARGUMENT_DEFINITION") != 0)
        {
            return -1;
        }
    }

    for (ev = def->values; ev; ev = ev->next) {
        if (fql_dc_list(dc, ev->directives, "ENUM_VALUE", NULL) != 0) {
            return -1;
        }
    }

    if (def->kind == FQL_DEF_INPUT_OBJECT) {
        return fql_dc_inputs(dc, def->input_fields, "INPUT_FIELD_DEFINITION");
    }

    return 0;
}


int
fql_sdl_check_directives(const fql_schema_t *s, const fql_document_t *doc,
    fql_parse_error_t *err)
{
    fql_dc_t                 dc;
    const fql_definition_t  *def;

    dc.schema = s;
    dc.defs = doc->definitions;
    dc.extensions = 0;
    dc.err = err;

    for (def = doc->definitions; def; def = def->next) {
        dc.extensions |= def->extension;
    }

    for (def = doc->definitions; def; def = def->next) {
        if (fql_dc_definition(&dc, def) != 0) {
            return -1;
        }
    }

    return 0;
}
