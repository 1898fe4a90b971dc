/*
 * Unit tests of the GraphQL lexer and parser.  Every input is copied into
 * a malloc'ed buffer of its exact length, without a NUL, so that ASan
 * catches any read past the end.  Documents are checked by printing the
 * AST back in a compact canonical form.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fql_ast.h"
#include "fql_lexer.h"


#define S(lit)  lit, sizeof(lit) - 1


/* printer */

typedef struct {
    char    buf[1 << 21];
    size_t  len;
} pr_t;


static void pr_sels(pr_t *b, fql_selection_t *s);
static void pr_value(pr_t *b, fql_value_t *v);


static void
pr(pr_t *b, const char *fmt, ...)
{
    va_list  args;
    int      n;

    va_start(args, fmt);
    n = vsnprintf(b->buf + b->len, sizeof(b->buf) - b->len, fmt, args);
    va_end(args);

    assert_true(n >= 0 && (size_t) n < sizeof(b->buf) - b->len);
    b->len += n;
}


static void
pr_str(pr_t *b, fql_str_t s)
{
    pr(b, "%.*s", (int) s.len, s.data);
}


static void
pr_quoted(pr_t *b, fql_str_t s)
{
    size_t          i;
    unsigned char   c;

    pr(b, "\"");

    for (i = 0; i < s.len; i++) {
        c = s.data[i];

        if (c == '"' || c == '\\') {
            pr(b, "\\%c", c);

        } else if (c == '\n') {
            pr(b, "\\n");

        } else if (c < 0x20) {
            pr(b, "\\x%02x", c);

        } else {
            pr(b, "%c", c);
        }
    }

    pr(b, "\"");
}


static void
pr_type(pr_t *b, fql_type_ref_t *t)
{
    switch (t->kind) {
    case FQL_TYPE_NAMED:
        pr_str(b, t->name);
        break;
    case FQL_TYPE_LIST:
        pr(b, "[");
        pr_type(b, t->of);
        pr(b, "]");
        break;
    case FQL_TYPE_NON_NULL:
        pr_type(b, t->of);
        pr(b, "!");
        break;
    }
}


static void
pr_value(pr_t *b, fql_value_t *v)
{
    fql_value_t         *i;
    fql_object_field_t  *f;

    switch (v->kind) {
    case FQL_VAL_VARIABLE:
        pr(b, "$");
        pr_str(b, v->str);
        break;
    case FQL_VAL_INT:
    case FQL_VAL_FLOAT:
    case FQL_VAL_ENUM:
        pr_str(b, v->str);
        break;
    case FQL_VAL_STRING:
        if (v->block) {
            pr(b, "B");
        }
        pr_quoted(b, v->str);
        break;
    case FQL_VAL_BOOLEAN:
        pr(b, v->boolean ? "true" : "false");
        break;
    case FQL_VAL_NULL:
        pr(b, "null");
        break;
    case FQL_VAL_LIST:
        pr(b, "[");
        for (i = v->items; i; i = i->next) {
            pr_value(b, i);
            pr(b, i->next ? " " : "");
        }
        pr(b, "]");
        break;
    case FQL_VAL_OBJECT:
        pr(b, "{");
        for (f = v->fields; f; f = f->next) {
            pr_str(b, f->name);
            pr(b, ":");
            pr_value(b, f->value);
            pr(b, f->next ? " " : "");
        }
        pr(b, "}");
        break;
    }
}


static void
pr_args(pr_t *b, fql_argument_t *a)
{
    if (a == NULL) {
        return;
    }

    pr(b, "(");

    for ( ; a; a = a->next) {
        pr_str(b, a->name);
        pr(b, ":");
        pr_value(b, a->value);
        pr(b, a->next ? "," : "");
    }

    pr(b, ")");
}


static void
pr_dirs(pr_t *b, fql_directive_t *d)
{
    for ( ; d; d = d->next) {
        pr(b, " @");
        pr_str(b, d->name);
        pr_args(b, d->args);
    }
}


static void
pr_sels(pr_t *b, fql_selection_t *s)
{
    pr(b, "{");

    for ( ; s; s = s->next) {
        switch (s->kind) {
        case FQL_SEL_FIELD:
            if (s->alias.len) {
                pr_str(b, s->alias);
                pr(b, ":");
            }
            pr_str(b, s->name);
            pr_args(b, s->args);
            pr_dirs(b, s->directives);
            if (s->selections) {
                pr_sels(b, s->selections);
            }
            break;
        case FQL_SEL_SPREAD:
            pr(b, "...");
            pr_str(b, s->name);
            pr_dirs(b, s->directives);
            break;
        case FQL_SEL_INLINE:
            pr(b, "...");
            if (s->type_condition.len) {
                pr(b, "on ");
                pr_str(b, s->type_condition);
            }
            pr_dirs(b, s->directives);
            pr_sels(b, s->selections);
            break;
        }
        pr(b, s->next ? " " : "");
    }

    pr(b, "}");
}


static void
pr_desc(pr_t *b, fql_str_t d)
{
    if (d.data) {
        pr_quoted(b, d);
        pr(b, " ");
    }
}


static void
pr_ivdefs(pr_t *b, fql_input_value_def_t *iv, const char *sep)
{
    for ( ; iv; iv = iv->next) {
        pr_desc(b, iv->description);
        pr_str(b, iv->name);
        pr(b, ":");
        pr_type(b, iv->type);
        if (iv->default_value) {
            pr(b, "=");
            pr_value(b, iv->default_value);
        }
        pr_dirs(b, iv->directives);
        pr(b, iv->next ? sep : "");
    }
}


static void
pr_names(pr_t *b, fql_name_list_t *n, const char *sep)
{
    for ( ; n; n = n->next) {
        pr_str(b, n->name);
        pr(b, n->next ? sep : "");
    }
}


static const char  *op_names[] = { "query", "mutation", "subscription" };
static const char  *def_names[] = {
    "", "", "schema", "scalar", "type", "interface", "union", "enum",
    "input", "directive"
};


static void
pr_def(pr_t *b, fql_definition_t *d)
{
    fql_variable_def_t    *v;
    fql_field_def_t       *f;
    fql_enum_value_def_t  *e;
    fql_root_op_t         *r;

    if (d->kind == FQL_DEF_OPERATION) {
        if (d->shorthand) {
            assert_int_equal(d->op, FQL_OP_QUERY);
            pr_sels(b, d->selections);
            return;
        }

        pr(b, "%s", op_names[d->op]);

        if (d->name.len) {
            pr(b, " ");
            pr_str(b, d->name);
        }

        if (d->variables) {
            pr(b, "(");
            for (v = d->variables; v; v = v->next) {
                pr(b, "$");
                pr_str(b, v->name);
                pr(b, ":");
                pr_type(b, v->type);
                if (v->default_value) {
                    pr(b, "=");
                    pr_value(b, v->default_value);
                }
                pr_dirs(b, v->directives);
                pr(b, v->next ? "," : "");
            }
            pr(b, ")");
        }

        pr_dirs(b, d->directives);
        pr(b, " ");
        pr_sels(b, d->selections);
        return;
    }

    if (d->kind == FQL_DEF_FRAGMENT) {
        pr(b, "fragment ");
        pr_str(b, d->name);
        pr(b, " on ");
        pr_str(b, d->type_condition);
        pr_dirs(b, d->directives);
        pr(b, " ");
        pr_sels(b, d->selections);
        return;
    }

    pr_desc(b, d->description);
    pr(b, "%s%s", d->extension ? "extend " : "", def_names[d->kind]);

    if (d->kind == FQL_DEF_DIRECTIVE) {
        pr(b, " @");
        pr_str(b, d->name);
        if (d->input_fields) {
            pr(b, "(");
            pr_ivdefs(b, d->input_fields, ",");
            pr(b, ")");
        }
        pr(b, "%s on ", d->repeatable ? " repeatable" : "");
        pr_names(b, d->locations, "|");
        return;
    }

    if (d->kind != FQL_DEF_SCHEMA) {
        pr(b, " ");
        pr_str(b, d->name);
    }

    if (d->interfaces) {
        pr(b, " implements ");
        pr_names(b, d->interfaces, "&");
    }

    pr_dirs(b, d->directives);

    if (d->root_ops) {
        pr(b, "{");
        for (r = d->root_ops; r; r = r->next) {
            pr(b, "%s:", op_names[r->op]);
            pr_str(b, r->type_name);
            pr(b, r->next ? " " : "");
        }
        pr(b, "}");
    }

    if (d->fields) {
        pr(b, "{");
        for (f = d->fields; f; f = f->next) {
            pr_desc(b, f->description);
            pr_str(b, f->name);
            if (f->args) {
                pr(b, "(");
                pr_ivdefs(b, f->args, ",");
                pr(b, ")");
            }
            pr(b, ":");
            pr_type(b, f->type);
            pr_dirs(b, f->directives);
            pr(b, f->next ? " " : "");
        }
        pr(b, "}");
    }

    if (d->members) {
        pr(b, "=");
        pr_names(b, d->members, "|");
    }

    if (d->values) {
        pr(b, "{");
        for (e = d->values; e; e = e->next) {
            pr_desc(b, e->description);
            pr_str(b, e->name);
            pr_dirs(b, e->directives);
            pr(b, e->next ? " " : "");
        }
        pr(b, "}");
    }

    if (d->input_fields) {
        pr(b, "{");
        pr_ivdefs(b, d->input_fields, " ");
        pr(b, "}");
    }
}


/* harness */

static pr_t               out;
static fql_parse_error_t  perr;


/* parses src[0..len) and prints the document or "ERR line:col message" */

static const char *
parse_lim(const char *src, size_t len, unsigned depth, unsigned tokens)
{
    fql_arena_t         *a;
    fql_document_t      *doc;
    fql_definition_t    *d;
    fql_parse_limits_t   lim;
    char                *copy;
    int                  rc;

    a = fql_arena_heap_create();
    assert_non_null(a);

    copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, src, len);

    lim.max_depth = depth;
    lim.max_tokens = tokens;

    doc = NULL;
    out.len = 0;
    out.buf[0] = '\0';

    rc = fql_parse_document(a, copy, len, &lim, &doc, &perr);

    if (rc != 0) {
        assert_int_equal(rc, -1);
        assert_null(doc);
        pr(&out, "ERR %u:%u %s", (unsigned) perr.loc.line,
           (unsigned) perr.loc.column, perr.message);

    } else {
        assert_non_null(doc);
        assert_non_null(doc->definitions);

        for (d = doc->definitions; d; d = d->next) {
            pr_def(&out, d);
            pr(&out, d->next ? "\n" : "");
        }
    }

    free(copy);
    fql_arena_heap_destroy(a);

    return out.buf;
}


static const char *
parse_n(const char *src, size_t len)
{
    return parse_lim(src, len, 0, 0);
}


static const char *
parse(const char *src)
{
    return parse_n(src, strlen(src));
}


#define assert_parse(src, expect)  assert_string_equal(parse(src), expect)
#define assert_parse_n(src, expect)  \
    assert_string_equal(parse_n(S(src)), expect)


/* the decoded value of the single string argument in "{f(a: <lit>)}" */

static const char *
str_value(const char *lit, size_t *len, int *block)
{
    static char          value[4096];
    fql_arena_t         *a;
    fql_document_t      *doc;
    fql_value_t         *v;
    char                *src;
    size_t               n;
    int                  rc;

    n = strlen(lit) + 8;
    src = malloc(n + 1);
    assert_non_null(src);
    snprintf(src, n + 1, "{f(a: %s)}", lit);

    a = fql_arena_heap_create();
    rc = fql_parse_document(a, src, n, NULL, &doc, &perr);
    if (rc != 0) {
        fail_msg("%s: %s", lit, perr.message);
    }

    v = doc->definitions->selections->args->value;
    assert_int_equal(v->kind, FQL_VAL_STRING);
    assert_true(v->str.len < sizeof(value));
    assert_int_equal(v->str.data[v->str.len], '\0');

    memcpy(value, v->str.data, v->str.len + 1);

    if (len) {
        *len = v->str.len;
    }

    if (block) {
        *block = v->block;
    }

    fql_arena_heap_destroy(a);
    free(src);

    return value;
}


#define assert_str_value(lit, expect)  \
    assert_string_equal(str_value(lit, NULL, NULL), expect)


/* the error of the string literal in "{f(a: <lit>)}" */

static const char *
str_error(const char *lit)
{
    char  src[512];
    int   n;

    n = snprintf(src, sizeof(src), "{f(a: %s)}", lit);

    return parse_n(src, n);
}


/* lexer */

typedef struct {
    fql_arena_t  *arena;
    fql_lexer_t   lx;
    char         *copy;
} lex_t;


static void
lex_open(lex_t *l, const char *src, size_t len)
{
    l->arena = fql_arena_heap_create();
    l->copy = malloc(len ? len : 1);
    memcpy(l->copy, src, len);
    fql_lexer_init(&l->lx, l->arena, l->copy, len, 0, &perr);
}


static void
lex_close(lex_t *l)
{
    fql_arena_heap_destroy(l->arena);
    free(l->copy);
}


static void
assert_tok(lex_t *l, fql_token_kind_t kind, const char *value,
    unsigned line, unsigned col)
{
    if (fql_lexer_next(&l->lx) != 0) {
        fail_msg("lex error %s", perr.message);
    }

    assert_int_equal(l->lx.tok.kind, kind);

    if (value) {
        assert_int_equal(l->lx.tok.value.len, strlen(value));
        assert_memory_equal(l->lx.tok.value.data, value, strlen(value));
    }

    assert_int_equal(l->lx.tok.loc.line, line);
    assert_int_equal(l->lx.tok.loc.column, col);
}


static void
test_lex_punctuators(void **state)
{
    lex_t  l;

    (void) state;

    lex_open(&l, S("! $ & ( ) ... : = @ [ ] { | }"));
    assert_tok(&l, FQL_TOK_BANG, NULL, 1, 1);
    assert_tok(&l, FQL_TOK_DOLLAR, NULL, 1, 3);
    assert_tok(&l, FQL_TOK_AMP, NULL, 1, 5);
    assert_tok(&l, FQL_TOK_PAREN_L, NULL, 1, 7);
    assert_tok(&l, FQL_TOK_PAREN_R, NULL, 1, 9);
    assert_tok(&l, FQL_TOK_SPREAD, NULL, 1, 11);
    assert_tok(&l, FQL_TOK_COLON, NULL, 1, 15);
    assert_tok(&l, FQL_TOK_EQUALS, NULL, 1, 17);
    assert_tok(&l, FQL_TOK_AT, NULL, 1, 19);
    assert_tok(&l, FQL_TOK_BRACKET_L, NULL, 1, 21);
    assert_tok(&l, FQL_TOK_BRACKET_R, NULL, 1, 23);
    assert_tok(&l, FQL_TOK_BRACE_L, NULL, 1, 25);
    assert_tok(&l, FQL_TOK_PIPE, NULL, 1, 27);
    assert_tok(&l, FQL_TOK_BRACE_R, NULL, 1, 29);
    assert_tok(&l, FQL_TOK_EOF, NULL, 1, 30);
    /* EOF is sticky */
    assert_tok(&l, FQL_TOK_EOF, NULL, 1, 30);
    lex_close(&l);

    lex_open(&l, S("...."));
    assert_tok(&l, FQL_TOK_SPREAD, NULL, 1, 1);
    assert_int_equal(fql_lexer_next(&l.lx), -1);
    assert_string_equal(perr.message,
                        "Syntax Error: Unexpected character: \".\".");
    assert_int_equal(perr.loc.column, 4);
    lex_close(&l);
}


static void
test_lex_names_numbers(void **state)
{
    lex_t  l;

    (void) state;

    lex_open(&l, S("_ a_B9 __typename 0 -0 12 -34 0.5 -1.25 1e10 1E-3 "
                   "2e+8 6.02e23 -0.0e0 x"));
    assert_tok(&l, FQL_TOK_NAME, "_", 1, 1);
    assert_tok(&l, FQL_TOK_NAME, "a_B9", 1, 3);
    assert_tok(&l, FQL_TOK_NAME, "__typename", 1, 8);
    assert_tok(&l, FQL_TOK_INT, "0", 1, 19);
    assert_tok(&l, FQL_TOK_INT, "-0", 1, 21);
    assert_tok(&l, FQL_TOK_INT, "12", 1, 24);
    assert_tok(&l, FQL_TOK_INT, "-34", 1, 27);
    assert_tok(&l, FQL_TOK_FLOAT, "0.5", 1, 31);
    assert_tok(&l, FQL_TOK_FLOAT, "-1.25", 1, 35);
    assert_tok(&l, FQL_TOK_FLOAT, "1e10", 1, 41);
    assert_tok(&l, FQL_TOK_FLOAT, "1E-3", 1, 46);
    assert_tok(&l, FQL_TOK_FLOAT, "2e+8", 1, 51);
    assert_tok(&l, FQL_TOK_FLOAT, "6.02e23", 1, 56);
    assert_tok(&l, FQL_TOK_FLOAT, "-0.0e0", 1, 64);
    assert_tok(&l, FQL_TOK_NAME, "x", 1, 71);
    assert_tok(&l, FQL_TOK_EOF, NULL, 1, 72);
    lex_close(&l);

    /* a number may be followed directly by a punctuator */
    lex_open(&l, S("1)2]3}4,5"));
    assert_tok(&l, FQL_TOK_INT, "1", 1, 1);
    assert_tok(&l, FQL_TOK_PAREN_R, NULL, 1, 2);
    assert_tok(&l, FQL_TOK_INT, "2", 1, 3);
    assert_tok(&l, FQL_TOK_BRACKET_R, NULL, 1, 4);
    assert_tok(&l, FQL_TOK_INT, "3", 1, 5);
    assert_tok(&l, FQL_TOK_BRACE_R, NULL, 1, 6);
    assert_tok(&l, FQL_TOK_INT, "4", 1, 7);
    assert_tok(&l, FQL_TOK_INT, "5", 1, 9);
    lex_close(&l);
}


static void
test_lex_ignored(void **state)
{
    lex_t  l;

    (void) state;

    lex_open(&l, S("\xEF\xBB\xBF\n\n    foo\n\n\n"));
    assert_tok(&l, FQL_TOK_NAME, "foo", 3, 5);
    assert_tok(&l, FQL_TOK_EOF, NULL, 6, 1);
    lex_close(&l);

    lex_open(&l, S("\r\n    foo\r\n bar"));
    assert_tok(&l, FQL_TOK_NAME, "foo", 2, 5);
    assert_tok(&l, FQL_TOK_NAME, "bar", 3, 2);
    lex_close(&l);

    lex_open(&l, S("\r\r  foo\r\r\n\n\rbar"));
    assert_tok(&l, FQL_TOK_NAME, "foo", 3, 3);
    assert_tok(&l, FQL_TOK_NAME, "bar", 7, 1);
    lex_close(&l);

    lex_open(&l, S("#comment\r\n  foo#comment\n\tbar # \xC3\xA9\xF0\x9F\x98\x80"
                   "\x7F\t\"\r ,,,baz,,,"));
    assert_tok(&l, FQL_TOK_NAME, "foo", 2, 3);
    assert_tok(&l, FQL_TOK_NAME, "bar", 3, 2);
    assert_tok(&l, FQL_TOK_NAME, "baz", 4, 5);
    assert_tok(&l, FQL_TOK_EOF, NULL, 4, 11);
    lex_close(&l);

    /* BOM in the middle is ignored and counts as one column */
    lex_open(&l, S("a\xEF\xBB\xBF" "b"));
    assert_tok(&l, FQL_TOK_NAME, "a", 1, 1);
    assert_tok(&l, FQL_TOK_NAME, "b", 1, 3);
    lex_close(&l);

    /* a comment at EOF, without a line terminator */
    lex_open(&l, S("a # the end"));
    assert_tok(&l, FQL_TOK_NAME, "a", 1, 1);
    assert_tok(&l, FQL_TOK_EOF, NULL, 1, 12);
    lex_close(&l);
}


static void
test_lex_columns_unicode(void **state)
{
    lex_t  l;

    (void) state;

    /* columns count code points: é is 2 bytes, 😀 is 4 */
    lex_open(&l, S("\"\xC3\xA9\xF0\x9F\x98\x80\" x \"\"\"\xE2\x82\xAC\n"
                   "\xC3\xA9\"\"\" y"));
    assert_tok(&l, FQL_TOK_STRING, "\xC3\xA9\xF0\x9F\x98\x80", 1, 1);
    assert_tok(&l, FQL_TOK_NAME, "x", 1, 6);
    assert_tok(&l, FQL_TOK_BLOCK_STRING, "\xE2\x82\xAC\n\xC3\xA9", 1, 8);
    assert_tok(&l, FQL_TOK_NAME, "y", 2, 6);
    lex_close(&l);
}


static void
test_lex_token_describe(void **state)
{
    fql_token_t  tok;
    char         buf[128];

    (void) state;

    memset(&tok, 0, sizeof(tok));

    tok.kind = FQL_TOK_EOF;
    fql_token_describe(&tok, buf, sizeof(buf));
    assert_string_equal(buf, "<EOF>");

    tok.kind = FQL_TOK_SPREAD;
    fql_token_describe(&tok, buf, sizeof(buf));
    assert_string_equal(buf, "\"...\"");

    tok.kind = FQL_TOK_NAME;
    tok.value.data = "foo";
    tok.value.len = 3;
    fql_token_describe(&tok, buf, sizeof(buf));
    assert_string_equal(buf, "Name \"foo\"");

    /* long values are cut at a code point boundary */
    tok.kind = FQL_TOK_STRING;
    tok.value.data = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xC3\xA9xyz";
    tok.value.len = strlen(tok.value.data);
    fql_token_describe(&tok, buf, sizeof(buf));
    assert_string_equal(buf, "String \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                        "...\"");

    assert_string_equal(fql_token_kind_name(FQL_TOK_BLOCK_STRING),
                        "BlockString");
    assert_string_equal(fql_token_kind_name((fql_token_kind_t) 99), "?");
}


static void
test_lex_token_limit(void **state)
{
    (void) state;

    /* "{ a }" is 3 tokens; EOF does not count */
    assert_string_equal(parse_lim(S("{ a }"), 0, 3), "{a}");
    assert_string_equal(parse_lim(S("{ a }"), 0, 2),
                        "ERR 1:5 Syntax Error: Document has too many "
                        "tokens.");
    assert_string_equal(parse_lim(S("{ a b c d }"), 0, 4),
                        "ERR 1:9 Syntax Error: Document has too many "
                        "tokens.");
    assert_string_equal(parse_lim(S("{ a b c d }"), 0, 0), "{a b c d}");
}


/* numbers */

static void
test_number_errors(void **state)
{
    (void) state;

    assert_parse("{f(a: 00)}", "ERR 1:8 Syntax Error: Invalid number, "
                 "unexpected digit after 0: \"0\".");
    assert_parse("{f(a: -01)}", "ERR 1:9 Syntax Error: Invalid number, "
                 "unexpected digit after 0: \"1\".");
    assert_parse("{f(a: 1.)}", "ERR 1:9 Syntax Error: Invalid number, "
                 "expected digit but got: \")\".");
    assert_parse("{f(a: .5)}", "ERR 1:7 Syntax Error: Unexpected character: "
                 "\".\".");
    assert_parse("{f(a: 1.a)}", "ERR 1:9 Syntax Error: Invalid number, "
                 "expected digit but got: \"a\".");
    assert_parse("{f(a: 1.2.3)}", "ERR 1:10 Syntax Error: Invalid number, "
                 "expected digit but got: \".\".");
    assert_parse("{f(a: 1e)}", "ERR 1:9 Syntax Error: Invalid number, "
                 "expected digit but got: \")\".");
    assert_parse("{f(a: 1e+)}", "ERR 1:10 Syntax Error: Invalid number, "
                 "expected digit but got: \")\".");
    assert_parse("{f(a: 1.0e)}", "ERR 1:11 Syntax Error: Invalid number, "
                 "expected digit but got: \")\".");
    assert_parse("{f(a: -)}", "ERR 1:8 Syntax Error: Invalid number, "
                 "expected digit but got: \")\".");
    assert_parse("{f(a: -a)}", "ERR 1:8 Syntax Error: Invalid number, "
                 "expected digit but got: \"a\".");
    assert_parse("{f(a: +1)}", "ERR 1:7 Syntax Error: Unexpected character: "
                 "\"+\".");
    assert_parse("{f(a: 1a)}", "ERR 1:8 Syntax Error: Invalid number, "
                 "expected digit but got: \"a\".");
    assert_parse("{f(a: 0x1F)}", "ERR 1:8 Syntax Error: Invalid number, "
                 "expected digit but got: \"x\".");
    assert_parse("{f(a: 1_000)}", "ERR 1:8 Syntax Error: Invalid number, "
                 "expected digit but got: \"_\".");
    assert_parse("{f(a: 1.5e3.1)}", "ERR 1:12 Syntax Error: Invalid number, "
                 "expected digit but got: \".\".");
    assert_parse("{f(a: 1.e1)}", "ERR 1:9 Syntax Error: Invalid number, "
                 "expected digit but got: \"e\".");
    assert_parse_n("{f(a: -\xC3\xA9)}", "ERR 1:8 Syntax Error: Invalid "
                   "number, expected digit but got: U+00E9.");
    assert_parse_n("{f(a: -\")}", "ERR 1:8 Syntax Error: Invalid "
                   "number, expected digit but got: '\"'.");
    assert_parse_n("{f(a: -\xFF)}", "ERR 1:8 Syntax Error: Invalid "
                   "number, expected digit but got: byte 0xFF.");
    assert_parse_n("1", "ERR 1:1 Syntax Error: Unexpected Int \"1\".");
    /* at EOF */
    assert_parse_n("-", "ERR 1:2 Syntax Error: Invalid number, expected "
                   "digit but got: <EOF>.");
    assert_parse_n("1e", "ERR 1:3 Syntax Error: Invalid number, expected "
                   "digit but got: <EOF>.");
    assert_parse_n("0.", "ERR 1:3 Syntax Error: Invalid number, expected "
                   "digit but got: <EOF>.");
    assert_parse_n("{f(a: 1.5 b: -0.0 c: 0e0 d: 123456789012345678901)}",
                   "{f(a:1.5,b:-0.0,c:0e0,d:123456789012345678901)}");
}


/* strings */

static void
test_string_simple(void **state)
{
    size_t  len;
    int     block;

    (void) state;

    assert_str_value("\"\"", "");
    assert_str_value("\"simple\"", "simple");
    assert_str_value("\" white space \"", " white space ");
    assert_str_value("\"tab\tinside\"", "tab\tinside");
    assert_str_value("\"unicode \xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"",
                     "unicode \xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
    assert_str_value("\"# not a comment\"", "# not a comment");
    assert_str_value("\"\xEF\xBB\xBF\"", "\xEF\xBB\xBF");
    assert_str_value("\"U+2028 \xE2\x80\xA8 ok\"", "U+2028 \xE2\x80\xA8 ok");
    assert_str_value("\"\xEF\xBF\xBF\xF4\x8F\xBF\xBF\"",
                     "\xEF\xBF\xBF\xF4\x8F\xBF\xBF");

    str_value("\"abc\"", &len, &block);
    assert_int_equal(len, 3);
    assert_int_equal(block, 0);
}


static void
test_string_escapes(void **state)
{
    size_t  len;

    (void) state;

    assert_str_value("\"quote \\\" backslash \\\\ slash \\/\"",
                     "quote \" backslash \\ slash /");
    assert_str_value("\"\\b\\f\\n\\r\\t\"", "\b\f\n\r\t");
    assert_str_value("\"\\u0041\\u00e9\\u00E9\\u20AC\\uFFFF\"",
                     "A\xC3\xA9\xC3\xA9\xE2\x82\xAC\xEF\xBF\xBF");
    assert_str_value("\"\\uD83D\\uDE00\"", "\xF0\x9F\x98\x80");
    assert_str_value("\"\\ud83d\\ude00x\"", "\xF0\x9F\x98\x80x");
    assert_str_value("\"\\uDBFF\\uDFFF\"", "\xF4\x8F\xBF\xBF");
    assert_str_value("\"\\u{41}\\u{e9}\\u{20AC}\\u{1F600}\\u{10FFFF}\"",
                     "A\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF");
    assert_str_value("\"\\u{0000000000041}\"", "A");
    assert_str_value("\"a\\u{0}b\"", "a");

    /* an escaped NUL is kept: the length tells */
    str_value("\"a\\u0000b\"", &len, NULL);
    assert_int_equal(len, 3);

    assert_str_value("\"\\\\u0041\"", "\\u0041");
    assert_str_value("\"\\u0022\"", "\"");
}


static void
test_string_errors(void **state)
{
    (void) state;

    assert_string_equal(str_error("\"abc"),
                        "ERR 1:13 Syntax Error: Unterminated string.");
    assert_parse_n("\"abc", "ERR 1:5 Syntax Error: Unterminated string.");
    assert_parse_n("\"", "ERR 1:2 Syntax Error: Unterminated string.");
    assert_parse_n("{f(a: \"ab\ncd\")}",
                   "ERR 1:10 Syntax Error: Unterminated string.");
    assert_parse_n("{f(a: \"ab\rcd\")}",
                   "ERR 1:10 Syntax Error: Unterminated string.");
    assert_parse_n("\"ab\\", "ERR 1:5 Syntax Error: Unterminated string.");
    assert_parse_n("\"ab\\\"", "ERR 1:6 Syntax Error: Unterminated string.");

    assert_string_equal(str_error("\"\\x\""),
                        "ERR 1:8 Syntax Error: Invalid character escape "
                        "sequence: \"\\x\".");
    assert_string_equal(str_error("\"a\\'\""),
                        "ERR 1:9 Syntax Error: Invalid character escape "
                        "sequence: \"\\'\".");
    assert_string_equal(str_error("\"\\\n\""),
                        "ERR 1:8 Syntax Error: Invalid character escape "
                        "sequence: \"\\\".");
    assert_string_equal(str_error("\"\\u12G4\""),
                        "ERR 1:8 Syntax Error: Invalid Unicode escape "
                        "sequence: \"\\u12G4\".");
    assert_string_equal(str_error("\"\\u12\""),
                        "ERR 1:8 Syntax Error: Invalid Unicode escape "
                        "sequence: \"\\u12\".");
    assert_parse_n("\"\\u12", "ERR 1:2 Syntax Error: Invalid Unicode "
                   "escape sequence: \"\\u12\".");
    assert_string_equal(str_error("\"\\uD83D\""),
                        "ERR 1:8 Syntax Error: Invalid Unicode escape "
                        "sequence: \"\\uD83D\".");
    assert_string_equal(str_error("\"\\uDE00\""),
                        "ERR 1:8 Syntax Error: Invalid Unicode escape "
                        "sequence: \"\\uDE00\".");
    assert_string_equal(str_error("\"\\uD83Dx\""),
                        "ERR 1:8 Syntax Error: Invalid Unicode escape "
                        "sequence: \"\\uD83D\".");
    assert_string_equal(str_error("\"\\uD83D\\u0041\""),
                        "ERR 1:8 Syntax Error: Invalid Unicode escape "
                        "sequence: \"\\uD83D\".");
    assert_string_equal(str_error("\"\\uD83D\\uD83D\""),
                        "ERR 1:8 Syntax Error: Invalid Unicode escape "
                        "sequence: \"\\uD83D\".");
    assert_string_equal(str_error("\"\\uDE00\\uD83D\""),
                        "ERR 1:8 Syntax Error: Invalid Unicode escape "
                        "sequence: \"\\uDE00\".");
    assert_string_equal(str_error("\"\\u{}\""),
                        "ERR 1:8 Syntax Error: Invalid Unicode escape "
                        "sequence: \"\\u{}\".");
    assert_string_equal(str_error("\"\\u{110000}\""),
                        "ERR 1:8 Syntax Error: Invalid Unicode escape "
                        "sequence: \"\\u{110000\".");
    assert_string_equal(str_error("\"\\u{D800}\""),
                        "ERR 1:8 Syntax Error: Invalid Unicode escape "
                        "sequence: \"\\u{D800}\".");
    assert_string_equal(str_error("\"\\u{DFFF}\""),
                        "ERR 1:8 Syntax Error: Invalid Unicode escape "
                        "sequence: \"\\u{DFFF}\".");
    assert_string_equal(str_error("\"\\u{41\""),
                        "ERR 1:8 Syntax Error: Invalid Unicode escape "
                        "sequence: \"\\u{41\".");
    assert_string_equal(str_error("\"\\u{4x}\""),
                        "ERR 1:8 Syntax Error: Invalid Unicode escape "
                        "sequence: \"\\u{4x\".");
    assert_string_equal(str_error("\"\\u{D83D}\\u{DE00}\""),
                        "ERR 1:8 Syntax Error: Invalid Unicode escape "
                        "sequence: \"\\u{D83D}\".");
    assert_parse_n("\"\\u{41", "ERR 1:2 Syntax Error: Invalid Unicode "
                   "escape sequence: \"\\u{41\".");

    /* error columns count code points */
    assert_string_equal(str_error("\"\xC3\xA9\xE2\x82\xAC\\q\""),
                        "ERR 1:10 Syntax Error: Invalid character escape "
                        "sequence: \"\\q\".");
}


static void
test_source_characters(void **state)
{
    (void) state;

    /* control characters */
    assert_parse_n("{f(a: \"a\x07\")}", "ERR 1:9 Syntax Error: Invalid "
                   "character within String: U+0007.");
    assert_parse_n("{f(a: \"a\0\")}", "ERR 1:9 Syntax Error: Invalid "
                   "character within String: U+0000.");
    assert_parse_n("{a\x07}", "ERR 1:3 Syntax Error: Invalid character: "
                   "U+0007.");
    assert_parse_n("\0", "ERR 1:1 Syntax Error: Invalid character: "
                   "U+0000.");
    assert_parse_n("{a} # bell \x07\n", "ERR 1:12 Syntax Error: Invalid "
                   "character: U+0007.");
    assert_parse_n("{f(a: \"\"\"\n x\x1F\"\"\")}", "ERR 2:3 Syntax Error: "
                   "Invalid character within String: U+001F.");
    assert_parse_n("{a\x7F}", "ERR 1:3 Syntax Error: Unexpected character: "
                   "U+007F.");
    assert_parse_n("{a ?}", "ERR 1:4 Syntax Error: Unexpected character: "
                   "\"?\".");
    assert_parse_n("{a 'b'}", "ERR 1:4 Syntax Error: Unexpected single quote "
                   "character ('), did you mean to use a double quote "
                   "(\")?");

    /* non-ASCII outside strings and comments */
    assert_parse_n("{a \xC3\xA9}", "ERR 1:4 Syntax Error: Unexpected "
                   "character: U+00E9.");
    assert_parse_n("{a \xF0\x9F\x98\x80}", "ERR 1:4 Syntax Error: Unexpected "
                   "character: U+1F600.");
    assert_parse_n("{a \xE2\x80\xA8}", "ERR 1:4 Syntax Error: Unexpected "
                   "character: U+2028.");
    assert_parse_n("{a \xEF\xBB}", "ERR 1:4 Syntax Error: Invalid UTF-8 "
                   "byte 0xEF.");

    /* invalid UTF-8 */
    assert_parse_n("{a \xFF}", "ERR 1:4 Syntax Error: Invalid UTF-8 byte "
                   "0xFF.");
    assert_parse_n("\"\xC3\x28\"", "ERR 1:2 Syntax Error: Invalid UTF-8 "
                   "byte 0xC3.");
    assert_parse_n("\"\xC0\x80\"", "ERR 1:2 Syntax Error: Invalid UTF-8 "
                   "byte 0xC0.");
    assert_parse_n("\"\xE0\x80\x80\"", "ERR 1:2 Syntax Error: Invalid UTF-8 "
                   "byte 0xE0.");
    assert_parse_n("\"\xED\xA0\x80\"", "ERR 1:2 Syntax Error: Invalid UTF-8 "
                   "byte 0xED.");
    assert_parse_n("\"\xF0\x80\x80\x80\"", "ERR 1:2 Syntax Error: Invalid "
                   "UTF-8 byte 0xF0.");
    assert_parse_n("\"\xF4\x90\x80\x80\"", "ERR 1:2 Syntax Error: Invalid "
                   "UTF-8 byte 0xF4.");
    assert_parse_n("\"\xF5\x80\x80\x80\"", "ERR 1:2 Syntax Error: Invalid "
                   "UTF-8 byte 0xF5.");
    assert_parse_n("\"\x80\"", "ERR 1:2 Syntax Error: Invalid UTF-8 "
                   "byte 0x80.");
    assert_parse_n("\"ab\xE2\x82", "ERR 1:4 Syntax Error: Invalid UTF-8 "
                   "byte 0xE2.");
    assert_parse_n("\"ab\xF0\x9F\x98", "ERR 1:4 Syntax Error: Invalid UTF-8 "
                   "byte 0xF0.");
    assert_parse_n("# \xC3\n{a}", "ERR 1:3 Syntax Error: Invalid UTF-8 "
                   "byte 0xC3.");
    assert_parse_n("\"\"\"\n\n  \xFE\"\"\"", "ERR 3:3 Syntax Error: Invalid "
                   "UTF-8 byte 0xFE.");
    assert_parse_n("\xEF\xBB\xBF\xEF\xBB\xBF{a}", "{a}");
}


/* block strings */

static void
test_block_string_dedent(void **state)
{
    int  block;

    (void) state;

    /* the spec's example */
    assert_str_value("\"\"\"\n    Hello,\n      World!\n\n    Yours,\n"
                     "      GraphQL.\n  \"\"\"",
                     "Hello,\n  World!\n\nYours,\n  GraphQL.");

    /* empty leading and trailing lines */
    assert_str_value("\"\"\"\n\n    Hello,\n      World!\n\n    Yours,\n"
                     "      GraphQL.\n\n\"\"\"",
                     "Hello,\n  World!\n\nYours,\n  GraphQL.");

    /* blank (whitespace only) leading and trailing lines */
    assert_str_value("\"\"\"  \n        \n    Hello,\n      World!\n\n"
                     "    Yours,\n      GraphQL.\n        \n  \"\"\"",
                     "Hello,\n  World!\n\nYours,\n  GraphQL.");

    /* the first line keeps its indentation */
    assert_str_value("\"\"\"    Hello,\n      World!\n\n    Yours,\n"
                     "      GraphQL.\"\"\"",
                     "    Hello,\n  World!\n\nYours,\n  GraphQL.");

    /* trailing spaces are kept, blank inner lines lose the indent */
    assert_str_value("\"\"\"               \n    Hello,     \n"
                     "      World!   \n    \n    Yours,     \n"
                     "      GraphQL. \n               \"\"\"",
                     "Hello,     \n  World!   \n\nYours,     \n  GraphQL. ");

    /* whitespace-only lines do not count for the common indent */
    assert_str_value("\"\"\"\n  a\n \n      \n  b\n\"\"\"", "a\n\n    \nb");

    /* tabs are white space too */
    assert_str_value("\"\"\"\n\t\ta\n\t\t\tb\n\t\"\"\"", "a\n\tb");

    /* mixed: the common indent is counted in characters */
    assert_str_value("\"\"\"\n \ta\n\t b\n\"\"\"", "a\nb");

    /* no common indent */
    assert_str_value("\"\"\"\nx\n  y\n\"\"\"", "x\n  y");

    /* line terminators are normalized */
    assert_str_value("\"\"\"\r\n  a\r\n  b\r  c\n\"\"\"", "a\nb\nc");
    assert_str_value("\"\"\"a\r\rb\"\"\"", "a\n\nb");

    /* empty and blank */
    assert_str_value("\"\"\"\"\"\"", "");
    assert_str_value("\"\"\"   \"\"\"", "");
    assert_str_value("\"\"\"\n  \n\t\n\"\"\"", "");
    assert_str_value("\"\"\" a \"\"\"", " a ");

    /* no escapes other than \""" */
    assert_str_value("\"\"\"a\\nb \\u0041 \\\"\"\"\"\"\"",
                     "a\\nb \\u0041 \"\"\"");
    assert_str_value("\"\"\"\\\"\"\"\"\"\"", "\"\"\"");
    assert_str_value("\"\"\"\\\\\"\"\"\"\"\"", "\\\"\"\"");
    assert_str_value("\"\"\"\n  \\\"\"\"\n  x\n\"\"\"", "\"\"\"\nx");
    assert_str_value("\"\"\"a\"b\"\"c\"\"\"", "a\"b\"\"c");
    assert_str_value("\"\"\" \" \"\"\"", " \" ");

    /* the escape does not count as white space */
    assert_str_value("\"\"\"\n    a\n  \\\"\"\"\n\"\"\"", "  a\n\"\"\"");

    /* unicode is kept */
    assert_str_value("\"\"\"\n  \xC3\xA9\n   \xF0\x9F\x98\x80\n\"\"\"",
                     "\xC3\xA9\n \xF0\x9F\x98\x80");

    str_value("\"\"\"x\"\"\"", NULL, &block);
    assert_int_equal(block, 1);
}


static void
test_block_string_errors(void **state)
{
    (void) state;

    assert_parse_n("\"\"\"", "ERR 1:4 Syntax Error: Unterminated string.");
    assert_parse_n("\"\"\"abc\n\"\"", "ERR 2:3 Syntax Error: Unterminated "
                   "string.");
    assert_parse_n("\"\"\"abc\\\"\"\"", "ERR 1:11 Syntax Error: "
                   "Unterminated string.");
    assert_parse_n("{f(a: \"\"\"\n\n\n  x\n\"\"\" b: 1.)}", "ERR 5:10 "
                   "Syntax Error: Invalid number, expected digit but got: "
                   "\")\".");
    /* lines inside block strings are counted, \r\n once */
    assert_parse_n("{f(a: \"\"\"\r\n\r\r\n\"\"\" b: ?)}", "ERR 4:8 "
                   "Syntax Error: Unexpected character: \"?\".");
}


/* executable documents */

static void
test_exec_operations(void **state)
{
    (void) state;

    assert_parse("{a}", "{a}");
    assert_parse("{ a, b, c }", "{a b c}");
    assert_parse("query { a }", "query {a}");
    assert_parse("query Q { a }", "query Q {a}");
    assert_parse("mutation M { a }", "mutation M {a}");
    assert_parse("subscription S { a }", "subscription S {a}");
    assert_parse("query ($a: Int) { a }", "query($a:Int) {a}");
    assert_parse("query Q @dir(x: 1) @other { a }",
                 "query Q @dir(x:1) @other {a}");
    assert_parse("query Q($id: ID!, $list: [String!]! = [\"a\"] @v(x: 1) "
                 "@w, $nested: [[Int]!] = [[1, 2], null], $o: In = {a: 1}) "
                 "{ a(id: $id) }",
                 "query Q($id:ID!,$list:[String!]!=[\"a\"] @v(x:1) @w,"
                 "$nested:[[Int]!]=[[1 2] null],$o:In={a:1}) {a(id:$id)}");
    assert_parse("{a} {b} query {c} query X {d}",
                 "{a}\n{b}\nquery {c}\nquery X {d}");
    /* names that are keywords elsewhere */
    assert_parse("query query { query fragment on type: extend(on: on) "
                 "mutation true false null }",
                 "query query {query fragment on type:extend(on:on) mutation "
                 "true false null}");
    assert_parse("query\nQ\n(\n$a\n:\nInt\n)\n{\na\n}", "query Q($a:Int) {a}");
    assert_parse("{ $ }", "ERR 1:3 Syntax Error: Expected Name, found "
                 "\"$\".");
    assert_parse("query ($ a: Int) { a }", "query($a:Int) {a}");
}


static void
test_exec_selections(void **state)
{
    (void) state;

    assert_parse("{ alias: field(a: 1, b: \"x\") @include(if: $c) { sub } }",
                 "{alias:field(a:1,b:\"x\") @include(if:$c){sub}}");
    assert_parse("{ a { b { c { d } } } }", "{a{b{c{d}}}}");
    assert_parse("{ ...Frag ...Frag2 @d(x: 1) }",
                 "{...Frag ...Frag2 @d(x:1)}");
    assert_parse("{ ... on User { id } }", "{...on User{id}}");
    assert_parse("{ ... @skip(if: true) { id } }",
                 "{... @skip(if:true){id}}");
    assert_parse("{ ... { id } }", "{...{id}}");
    assert_parse("{ ... on User @a @b { id } }", "{...on User @a @b{id}}");
    assert_parse("{ ...onUser ...on_ }", "{...onUser ...on_}");
    assert_parse("{ __typename a: __typename }",
                 "{__typename a:__typename}");
    assert_parse("fragment F on User @d { id ...G }",
                 "fragment F on User @d {id ...G}");
    assert_parse("fragment query on mutation { a }",
                 "fragment query on mutation {a}");
    assert_parse("{ a(x: 1) @d @e(y: 2) { b } c }",
                 "{a(x:1) @d @e(y:2){b} c}");
}


static void
test_exec_values(void **state)
{
    (void) state;

    assert_parse("{f(a: 1, b: -2.5e3, c: \"s\", d: \"\"\"  b  \"\"\", e: true, "
                 "f: false, g: null, h: ENUM_V, i: $v, j: [], k: {}, "
                 "l: [1 [2 [3]] {x: [4]}], m: {a: {b: {c: null}}, d: $v})}",
                 "{f(a:1,b:-2.5e3,c:\"s\",d:B\"  b  \",e:true,f:false,"
                 "g:null,h:ENUM_V,i:$v,j:[],k:{},l:[1 [2 [3]] {x:[4]}],"
                 "m:{a:{b:{c:null}} d:$v})}");
    assert_parse("{f(a: [$a, $b], o: {x: $c})}",
                 "{f(a:[$a $b],o:{x:$c})}");
    assert_parse("{f(a: True, b: NULL, c: on, d: trueish)}",
                 "{f(a:True,b:NULL,c:on,d:trueish)}");
    assert_parse("{f(a: [1,,,2,])}", "{f(a:[1 2])}");
}


static void
test_exec_value_nodes(void **state)
{
    fql_arena_t     *a;
    fql_document_t  *doc;
    fql_value_t     *v;
    const char      *src;

    (void) state;

    src = "{f(a: true, b: false, c: null, d: E, e: 1.5, f: $x)}";

    a = fql_arena_heap_create();
    assert_int_equal(fql_parse_document(a, src, strlen(src), NULL, &doc,
                                        &perr), 0);

    v = doc->definitions->selections->args->value;
    assert_int_equal(v->kind, FQL_VAL_BOOLEAN);
    assert_int_equal(v->boolean, 1);
    assert_int_equal(v->loc.column, 7);

    v = doc->definitions->selections->args->next->value;
    assert_int_equal(v->kind, FQL_VAL_BOOLEAN);
    assert_int_equal(v->boolean, 0);

    v = doc->definitions->selections->args->next->next->value;
    assert_int_equal(v->kind, FQL_VAL_NULL);

    v = doc->definitions->selections->args->next->next->next->value;
    assert_int_equal(v->kind, FQL_VAL_ENUM);
    assert_true(fql_str_eqz(v->str, "E"));

    v = doc->definitions->selections->args->next->next->next->next->value;
    assert_int_equal(v->kind, FQL_VAL_FLOAT);
    assert_true(fql_str_eqz(v->str, "1.5"));

    v = v->next;
    assert_null(v);

    v = doc->definitions->selections->args->next->next->next->next->next
        ->value;
    assert_int_equal(v->kind, FQL_VAL_VARIABLE);
    assert_true(fql_str_eqz(v->str, "x"));
    assert_int_equal(v->loc.column, 49);

    fql_arena_heap_destroy(a);
}


static void
test_exec_locations(void **state)
{
    fql_arena_t         *a;
    fql_document_t      *doc;
    fql_definition_t    *d;
    fql_selection_t     *s;
    fql_variable_def_t  *v;
    const char          *src;

    (void) state;

    src = "# c\r\nquery Q($x: [Int!]) {\r\n"
          "  al: f(a: 1) @d { g }\r\n"
          "  \xC3\xA9: ...F\r\n"
          "}\n"
          "fragment F on T { ... on T { h } }";

    /* the é makes the spread line invalid; fix it to a name first */
    assert_string_equal(parse(src), "ERR 4:3 Syntax Error: Unexpected "
                        "character: U+00E9.");

    src = "# c\r\nquery Q($x: [Int!]) {\r\n"
          "  al: f(a: 1) @d { g }\r\n"
          "  \"\xC3\xA9\" ...F\r\n"
          "}\n"
          "fragment F on T { ... on T { h } }";

    assert_string_equal(parse(src), "ERR 4:3 Syntax Error: Expected Name, "
                        "found String \"\xC3\xA9\".");

    src = "# c\r\nquery Q($x: [Int!]) {\r\n"
          "  al: f(a: 1) @d { g }\r\n"
          "  ...F\r\n"
          "}\n"
          "fragment F on T { ... on T { h } }";

    a = fql_arena_heap_create();
    assert_int_equal(fql_parse_document(a, src, strlen(src), NULL, &doc,
                                        &perr), 0);

    d = doc->definitions;
    assert_int_equal(d->loc.line, 2);
    assert_int_equal(d->loc.column, 1);
    assert_true(fql_str_eqz(d->name, "Q"));

    v = d->variables;
    assert_int_equal(v->loc.line, 2);
    assert_int_equal(v->loc.column, 9);
    assert_int_equal(v->type->kind, FQL_TYPE_LIST);
    assert_int_equal(v->type->loc.column, 13);
    assert_int_equal(v->type->of->kind, FQL_TYPE_NON_NULL);
    assert_int_equal(v->type->of->loc.column, 14);
    assert_int_equal(v->type->of->of->kind, FQL_TYPE_NAMED);
    assert_null(v->default_value);

    s = d->selections;
    assert_int_equal(s->kind, FQL_SEL_FIELD);
    assert_int_equal(s->loc.line, 3);
    assert_int_equal(s->loc.column, 3);
    assert_true(fql_str_eqz(s->alias, "al"));
    assert_true(fql_str_eqz(s->name, "f"));
    assert_int_equal(s->args->loc.column, 9);
    assert_int_equal(s->args->value->loc.column, 12);
    assert_int_equal(s->directives->loc.column, 15);
    assert_int_equal(s->selections->loc.column, 20);

    s = s->next;
    assert_int_equal(s->kind, FQL_SEL_SPREAD);
    assert_int_equal(s->loc.line, 4);
    assert_int_equal(s->loc.column, 3);
    assert_int_equal(s->alias.len, 0);
    assert_null(s->next);

    d = d->next;
    assert_int_equal(d->kind, FQL_DEF_FRAGMENT);
    assert_int_equal(d->loc.line, 6);
    assert_int_equal(d->loc.column, 1);
    assert_int_equal(d->selections->kind, FQL_SEL_INLINE);
    assert_int_equal(d->selections->loc.column, 19);
    assert_true(fql_str_eqz(d->selections->type_condition, "T"));
    assert_null(d->next);

    fql_arena_heap_destroy(a);
}


static void
test_exec_errors(void **state)
{
    (void) state;

    assert_parse("", "ERR 1:1 Syntax Error: Unexpected <EOF>.");
    assert_parse("  # only a comment\n ,", "ERR 2:3 Syntax Error: "
                 "Unexpected <EOF>.");
    assert_parse("{", "ERR 1:2 Syntax Error: Expected Name, found <EOF>.");
    assert_parse("{}", "ERR 1:2 Syntax Error: Expected Name, found \"}\".");
    assert_parse("{ a", "ERR 1:4 Syntax Error: Expected Name, found <EOF>.");
    assert_parse("{ a }}", "ERR 1:6 Syntax Error: Unexpected \"}\".");
    assert_parse("query", "ERR 1:6 Syntax Error: Expected \"{\", found "
                 "<EOF>.");
    assert_parse("query Q", "ERR 1:8 Syntax Error: Expected \"{\", found "
                 "<EOF>.");
    assert_parse("query Q()", "ERR 1:9 Syntax Error: Expected \"$\", found "
                 "\")\".");
    assert_parse("query Q($a) {a}", "ERR 1:11 Syntax Error: Expected \":\", "
                 "found \")\".");
    assert_parse("query Q($a:) {a}", "ERR 1:12 Syntax Error: Expected Name, "
                 "found \")\".");
    assert_parse("query Q($a: Int!!) {a}", "ERR 1:17 Syntax Error: "
                 "Expected \"$\", found \"!\".");
    assert_parse("query Q($a: [Int) {a}", "ERR 1:17 Syntax Error: "
                 "Expected \"]\", found \")\".");
    assert_parse("query Q($a: Int = $b) {a}", "ERR 1:19 Syntax Error: "
                 "Unexpected variable \"$b\" in constant value.");
    assert_parse("query Q($a: Int = [{x: $b}]) {a}", "ERR 1:24 Syntax "
                 "Error: Unexpected variable \"$b\" in constant value.");
    assert_parse("query Q($a: Int @d(x: $b)) {a}", "ERR 1:23 Syntax Error: "
                 "Unexpected variable \"$b\" in constant value.");
    assert_parse("query Q($a: Int = $) {a}", "ERR 1:20 Syntax Error: "
                 "Unexpected \")\".");
    assert_parse("{ a(x: $) }", "ERR 1:9 Syntax Error: Expected Name, found "
                 "\")\".");
    assert_parse("{ a() }", "ERR 1:5 Syntax Error: Expected Name, found "
                 "\")\".");
    assert_parse("{ a(x) }", "ERR 1:6 Syntax Error: Expected \":\", found "
                 "\")\".");
    assert_parse("{ a(x:) }", "ERR 1:7 Syntax Error: Unexpected \")\".");
    assert_parse("{ a(x: [1 2) }", "ERR 1:12 Syntax Error: Unexpected "
                 "\")\".");
    assert_parse("{ a(x: {b}) }", "ERR 1:10 Syntax Error: Expected \":\", "
                 "found \"}\".");
    assert_parse("{ a(x: {1: 2}) }", "ERR 1:9 Syntax Error: Expected Name, "
                 "found Int \"1\".");
    assert_parse("{ a(x: 1", "ERR 1:9 Syntax Error: Expected Name, found "
                 "<EOF>.");
    assert_parse("{ a: }", "ERR 1:6 Syntax Error: Expected Name, found "
                 "\"}\".");
    assert_parse("{ a @ }", "ERR 1:7 Syntax Error: Expected Name, found "
                 "\"}\".");
    assert_parse("{ ... }", "ERR 1:7 Syntax Error: Expected \"{\", found "
                 "\"}\".");
    assert_parse("{ ... on }", "ERR 1:10 Syntax Error: Expected Name, found "
                 "\"}\".");
    assert_parse("{ ... on T }", "ERR 1:12 Syntax Error: Expected \"{\", "
                 "found \"}\".");
    assert_parse("fragment on on T { a }", "ERR 1:10 Syntax Error: "
                 "Unexpected Name \"on\".");
    assert_parse("fragment F T { a }", "ERR 1:12 Syntax Error: Expected "
                 "\"on\", found Name \"T\".");
    assert_parse("fragment F on { a }", "ERR 1:15 Syntax Error: Expected "
                 "Name, found \"{\".");
    assert_parse("fragment F on T", "ERR 1:16 Syntax Error: Expected \"{\", "
                 "found <EOF>.");
    assert_parse("fragment F($a: Int) on T { a }", "ERR 1:11 Syntax Error: "
                 "Expected \"on\", found \"(\".");
    assert_parse("notanoperation { a }", "ERR 1:1 Syntax Error: Unexpected "
                 "Name \"notanoperation\".");
    assert_parse("{ a } ...", "ERR 1:7 Syntax Error: Unexpected \"...\".");
    assert_parse("\"desc\" query { a }", "ERR 1:1 Syntax Error: Unexpected "
                 "description, descriptions are supported only on type "
                 "definitions.");
    assert_parse("\"\"\"desc\"\"\" { a }", "ERR 1:1 Syntax Error: "
                 "Unexpected description, descriptions are supported only "
                 "on type definitions.");
    assert_parse("\n  \"d\" fragment F on T { a }", "ERR 2:3 Syntax Error: "
                 "Unexpected description, descriptions are supported only "
                 "on type definitions.");
    assert_parse("\"d\"", "ERR 1:1 Syntax Error: Unexpected description, "
                 "descriptions are supported only on type definitions.");
    assert_parse("{ a(x: \"a very long string value that will be cut in "
                 "the message\" y) }",
                 "ERR 1:68 Syntax Error: Expected \":\", found \")\".");
    assert_parse("{ a(\"a very long string value that will be cut in the "
                 "message\": 1) }",
                 "ERR 1:5 Syntax Error: Expected Name, found String \"a very "
                 "long string value that will be cu...\".");
}


/* type system */

static void
test_sdl_schema_scalar(void **state)
{
    (void) state;

    assert_parse("schema { query: Q mutation: M subscription: S }",
                 "schema{query:Q mutation:M subscription:S}");
    assert_parse("\"d\" schema @a(x: 1) { query: Q }",
                 "\"d\" schema @a(x:1){query:Q}");
    assert_parse("scalar Date", "scalar Date");
    assert_parse("\"\"\"When\"\"\" scalar Date @specifiedBy(url: \"u\")",
                 "\"When\" scalar Date @specifiedBy(url:\"u\")");
    assert_parse("extend schema @a", "extend schema @a");
    assert_parse("extend schema { mutation: M }",
                 "extend schema{mutation:M}");
    assert_parse("extend schema @a { subscription: S }",
                 "extend schema @a{subscription:S}");
    assert_parse("extend scalar Date @d", "extend scalar Date @d");

    assert_parse("schema", "ERR 1:7 Syntax Error: Expected \"{\", found "
                 "<EOF>.");
    assert_parse("schema {}", "ERR 1:9 Syntax Error: Unexpected \"}\".");
    assert_parse("schema { query Q }", "ERR 1:16 Syntax Error: Expected "
                 "\":\", found Name \"Q\".");
    assert_parse("schema { other: Q }", "ERR 1:10 Syntax Error: Unexpected "
                 "Name \"other\".");
    assert_parse("schema { query: [Q] }", "ERR 1:17 Syntax Error: Expected "
                 "Name, found \"[\".");
    assert_parse("schema @d(x: $v) { query: Q }", "ERR 1:14 Syntax Error: "
                 "Unexpected variable \"$v\" in constant value.");
    assert_parse("extend schema", "ERR 1:14 Syntax Error: Unexpected "
                 "<EOF>.");
    assert_parse("extend schema\nscalar X", "ERR 2:1 Syntax Error: "
                 "Unexpected Name \"scalar\".");
    assert_parse("extend scalar Date", "ERR 1:19 Syntax Error: Unexpected "
                 "<EOF>.");
    assert_parse("scalar", "ERR 1:7 Syntax Error: Expected Name, found "
                 "<EOF>.");
    assert_parse("\"d\" extend scalar Date @d", "ERR 1:1 Syntax Error: "
                 "Unexpected description, descriptions are supported only "
                 "on type definitions.");
}


static void
test_sdl_object_interface(void **state)
{
    (void) state;

    assert_parse("type T", "type T");
    assert_parse("type T { a: Int }", "type T{a:Int}");
    assert_parse("\"T\" type T implements A & B @k(x: [1]) {\n"
                 "  \"the field\" f(\"arg\" a: Int = 1 @d, b: [In!]!): "
                 "[S!]! @deprecated(reason: \"no\")\n"
                 "  \"\"\"\n  block\n  \"\"\" g: G\n"
                 "  h(x: I = {a: [1, 2], b: ENUM}): H\n}",
                 "\"T\" type T implements A&B @k(x:[1]){\"the field\" "
                 "f(\"arg\" a:Int=1 @d,b:[In!]!):[S!]! @deprecated("
                 "reason:\"no\") \"block\" g:G h(x:I={a:[1 2] b:ENUM}):H}");
    assert_parse("type T implements & A & B { a: Int }",
                 "type T implements A&B{a:Int}");
    assert_parse("type T implements A { a: Int }",
                 "type T implements A{a:Int}");
    assert_parse("interface I", "interface I");
    assert_parse("interface I implements J & K @d { a: Int }",
                 "interface I implements J&K @d{a:Int}");
    assert_parse("type type { type: type, input: input }",
                 "type type{type:type input:input}");
    assert_parse("extend type T { b: Int }", "extend type T{b:Int}");
    assert_parse("extend type T implements I", "extend type T implements I");
    assert_parse("extend type T @d", "extend type T @d");
    assert_parse("extend interface I { b: Int }",
                 "extend interface I{b:Int}");
    assert_parse("extend interface I implements J",
                 "extend interface I implements J");
    assert_parse("extend interface I @d", "extend interface I @d");

    assert_parse("type T {}", "ERR 1:9 Syntax Error: Expected Name, found "
                 "\"}\".");
    assert_parse("type T { a }", "ERR 1:12 Syntax Error: Expected \":\", "
                 "found \"}\".");
    assert_parse("type T { a: }", "ERR 1:13 Syntax Error: Expected Name, "
                 "found \"}\".");
    assert_parse("type T { a(): Int }", "ERR 1:12 Syntax Error: Expected "
                 "Name, found \")\".");
    assert_parse("type T { a(x): Int }", "ERR 1:13 Syntax Error: Expected "
                 "\":\", found \")\".");
    assert_parse("type T { a(x: Int = $v): Int }", "ERR 1:21 Syntax Error: "
                 "Unexpected variable \"$v\" in constant value.");
    assert_parse("type T implements { a: Int }", "ERR 1:19 Syntax Error: "
                 "Expected Name, found \"{\".");
    assert_parse("type T implements A & { a: Int }", "ERR 1:23 Syntax "
                 "Error: Expected Name, found \"{\".");
    assert_parse("type T implements A B { a: Int }", "ERR 1:21 Syntax Error: "
                 "Unexpected Name \"B\".");
    assert_parse("type T { a: Int @d(x: $v) }", "ERR 1:23 Syntax Error: "
                 "Unexpected variable \"$v\" in constant value.");
    assert_parse("extend type T", "ERR 1:14 Syntax Error: Unexpected "
                 "<EOF>.");
    assert_parse("extend interface I", "ERR 1:19 Syntax Error: Unexpected "
                 "<EOF>.");
    assert_parse("extend type T {}", "ERR 1:16 Syntax Error: Expected Name, "
                 "found \"}\".");
}


static void
test_sdl_union_enum_input(void **state)
{
    (void) state;

    assert_parse("union U", "union U");
    assert_parse("union U = A", "union U=A");
    assert_parse("union U = A | B", "union U=A|B");
    assert_parse("union U = | A | B", "union U=A|B");
    assert_parse("\"d\" union U @d = A", "\"d\" union U @d=A");
    assert_parse("extend union U = C", "extend union U=C");
    assert_parse("extend union U @d", "extend union U @d");
    assert_parse("union U =", "ERR 1:10 Syntax Error: Expected Name, found "
                 "<EOF>.");
    assert_parse("union U = |", "ERR 1:12 Syntax Error: Expected Name, "
                 "found <EOF>.");
    assert_parse("union U = A |", "ERR 1:14 Syntax Error: Expected Name, "
                 "found <EOF>.");
    assert_parse("union U = | | A", "ERR 1:13 Syntax Error: Expected Name, "
                 "found \"|\".");
    assert_parse("extend union U", "ERR 1:15 Syntax Error: Unexpected "
                 "<EOF>.");

    assert_parse("enum E", "enum E");
    assert_parse("enum E { A B @deprecated \"d\" C \"\"\"e\"\"\" D @x(y: 1) }",
                 "enum E{A B @deprecated \"d\" C \"e\" D @x(y:1)}");
    assert_parse("enum E { on type True nulls }", "enum E{on type True "
                 "nulls}");
    assert_parse("extend enum E { F }", "extend enum E{F}");
    assert_parse("extend enum E @d", "extend enum E @d");
    assert_parse("enum E {}", "ERR 1:9 Syntax Error: Expected Name, found "
                 "\"}\".");
    assert_parse("enum E { true }", "ERR 1:10 Syntax Error: Name \"true\" is "
                 "reserved and cannot be used for an enum value.");
    assert_parse("enum E { A false }", "ERR 1:12 Syntax Error: Name \"false\" "
                 "is reserved and cannot be used for an enum value.");
    assert_parse("enum E { \"d\" null }", "ERR 1:14 Syntax Error: Name "
                 "\"null\" is reserved and cannot be used for an enum "
                 "value.");
    assert_parse("enum E { A: 1 }", "ERR 1:11 Syntax Error: Expected Name, "
                 "found \":\".");
    assert_parse("extend enum E", "ERR 1:14 Syntax Error: Unexpected "
                 "<EOF>.");

    assert_parse("input I", "input I");
    assert_parse("input I @d { \"d\" a: Int = 1 @x, b: [I!] = [{a: 2}] }",
                 "input I @d{\"d\" a:Int=1 @x b:[I!]=[{a:2}]}");
    assert_parse("extend input I { c: Int }", "extend input I{c:Int}");
    assert_parse("extend input I @d", "extend input I @d");
    assert_parse("input I {}", "ERR 1:10 Syntax Error: Expected Name, found "
                 "\"}\".");
    assert_parse("input I { a(x: Int): Int }", "ERR 1:12 Syntax Error: "
                 "Expected \":\", found \"(\".");
    assert_parse("input I { a: Int = $v }", "ERR 1:20 Syntax Error: "
                 "Unexpected variable \"$v\" in constant value.");
    assert_parse("extend input I", "ERR 1:15 Syntax Error: Unexpected "
                 "<EOF>.");
}


static void
test_sdl_directive(void **state)
{
    (void) state;

    assert_parse("directive @d on FIELD", "directive @d on FIELD");
    assert_parse("\"doc\" directive @d(\"a\" a: Int = 1, b: [S!]!) "
                 "repeatable on | QUERY | MUTATION | SUBSCRIPTION | FIELD | "
                 "FRAGMENT_DEFINITION | FRAGMENT_SPREAD | INLINE_FRAGMENT | "
                 "VARIABLE_DEFINITION | SCHEMA | SCALAR | OBJECT | "
                 "FIELD_DEFINITION | ARGUMENT_DEFINITION | INTERFACE | UNION "
                 "| ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION",
                 "\"doc\" directive @d(\"a\" a:Int=1,b:[S!]!) repeatable on "
                 "QUERY|MUTATION|SUBSCRIPTION|FIELD|FRAGMENT_DEFINITION|"
                 "FRAGMENT_SPREAD|INLINE_FRAGMENT|VARIABLE_DEFINITION|SCHEMA|"
                 "SCALAR|OBJECT|FIELD_DEFINITION|ARGUMENT_DEFINITION|"
                 "INTERFACE|UNION|ENUM|ENUM_VALUE|INPUT_OBJECT|"
                 "INPUT_FIELD_DEFINITION");
    assert_parse("directive @repeatable repeatable on OBJECT",
                 "directive @repeatable repeatable on OBJECT");
    assert_parse("directive @on on ENUM", "directive @on on ENUM");

    assert_parse("directive d on FIELD", "ERR 1:11 Syntax Error: Expected "
                 "\"@\", found Name \"d\".");
    assert_parse("directive @d", "ERR 1:13 Syntax Error: Expected \"on\", "
                 "found <EOF>.");
    assert_parse("directive @d FIELD", "ERR 1:14 Syntax Error: Expected "
                 "\"on\", found Name \"FIELD\".");
    assert_parse("directive @d on", "ERR 1:16 Syntax Error: Expected Name, "
                 "found <EOF>.");
    assert_parse("directive @d on FIELD |", "ERR 1:24 Syntax Error: Expected "
                 "Name, found <EOF>.");
    assert_parse("directive @d on INCORRECT_LOCATION", "ERR 1:17 Syntax "
                 "Error: Unexpected Name \"INCORRECT_LOCATION\".");
    assert_parse("directive @d on field", "ERR 1:17 Syntax Error: Unexpected "
                 "Name \"field\".");
    assert_parse("directive @d repeatable repeatable on FIELD", "ERR 1:25 "
                 "Syntax Error: Expected \"on\", found Name \"repeatable\".");
    assert_parse("directive @d() on FIELD", "ERR 1:14 Syntax Error: Expected "
                 "Name, found \")\".");
    assert_parse("extend directive @d on FIELD", "ERR 1:8 Syntax Error: "
                 "Unexpected Name \"directive\".");
    assert_parse("extend foo", "ERR 1:8 Syntax Error: Unexpected Name "
                 "\"foo\".");
    assert_parse("extend", "ERR 1:7 Syntax Error: Unexpected <EOF>.");
    assert_parse("extend { a }", "ERR 1:8 Syntax Error: Unexpected \"{\".");
}


static void
test_sdl_nodes(void **state)
{
    fql_arena_t       *a;
    fql_document_t    *doc;
    fql_definition_t  *d;
    const char        *src;

    (void) state;

    src = "\"\"\"\n  Doc\n\"\"\"\ntype T implements I {\n"
          "  \"\" f(x: Int): Int\n  g: Int\n}\n"
          "extend type T @d\n"
          "directive @r repeatable on FIELD\n"
          "enum E { \"e\" A B }\n"
          "schema { query: T }";

    a = fql_arena_heap_create();
    assert_int_equal(fql_parse_document(a, src, strlen(src), NULL, &doc,
                                        &perr), 0);

    d = doc->definitions;
    assert_int_equal(d->kind, FQL_DEF_OBJECT);
    assert_int_equal(d->extension, 0);
    assert_string_equal(d->description.data, "Doc");
    assert_int_equal(d->description.len, 3);
    assert_int_equal(d->loc.line, 4);
    assert_int_equal(d->loc.column, 1);
    assert_int_equal(d->interfaces->loc.column, 19);
    assert_null(d->interfaces->next);

    /* an empty description is still a description */
    assert_non_null(d->fields->description.data);
    assert_int_equal(d->fields->description.len, 0);
    assert_int_equal(d->fields->loc.line, 5);
    assert_int_equal(d->fields->loc.column, 6);
    assert_int_equal(d->fields->args->loc.column, 8);
    assert_null(d->fields->args->description.data);
    assert_null(d->fields->next->description.data);
    assert_null(d->fields->next->args);

    d = d->next;
    assert_int_equal(d->kind, FQL_DEF_OBJECT);
    assert_int_equal(d->extension, 1);
    assert_null(d->description.data);
    assert_null(d->fields);
    assert_int_equal(d->loc.line, 8);

    d = d->next;
    assert_int_equal(d->kind, FQL_DEF_DIRECTIVE);
    assert_int_equal(d->repeatable, 1);
    assert_true(fql_str_eqz(d->name, "r"));
    assert_int_equal(d->locations->loc.line, 9);
    assert_int_equal(d->locations->loc.column, 28);

    d = d->next;
    assert_int_equal(d->kind, FQL_DEF_ENUM);
    assert_string_equal(d->values->description.data, "e");
    assert_int_equal(d->values->loc.column, 14);
    assert_null(d->values->next->description.data);

    d = d->next;
    assert_int_equal(d->kind, FQL_DEF_SCHEMA);
    assert_int_equal(d->root_ops->op, FQL_OP_QUERY);
    assert_int_equal(d->root_ops->loc.column, 10);
    assert_true(fql_str_eqz(d->root_ops->type_name, "T"));
    assert_null(d->next);

    fql_arena_heap_destroy(a);
}


static void
test_mixed_document(void **state)
{
    (void) state;

    assert_parse("type Query { a: Int }\n{ a }\nscalar S\n"
                 "fragment F on Query { a }",
                 "type Query{a:Int}\n{a}\nscalar S\n"
                 "fragment F on Query {a}");
}


/* limits */

static char *
nested(const char *open, const char *mid, const char *close, unsigned n,
    size_t *len)
{
    size_t   lo, lm, lc, i;
    char    *s, *p;

    lo = strlen(open);
    lm = strlen(mid);
    lc = strlen(close);

    s = malloc(n * (lo + lc) + lm + 1);
    assert_non_null(s);

    p = s;

    for (i = 0; i < n; i++) {
        memcpy(p, open, lo);
        p += lo;
    }

    memcpy(p, mid, lm);
    p += lm;

    for (i = 0; i < n; i++) {
        memcpy(p, close, lc);
        p += lc;
    }

    *p = '\0';
    *len = p - s;

    return s;
}


static void
test_depth_limit(void **state)
{
    char    *s, *p;
    size_t   len;

    (void) state;

    /* the default is 128 */
    s = nested("{a", "", "}", 128, &len);
    assert_true(strncmp(parse_n(s, len), "{a{a{a", 6) == 0);
    free(s);

    s = nested("{a", "", "}", 129, &len);
    assert_string_equal(parse_n(s, len), "ERR 1:257 Syntax Error: Document "
                        "nesting too deep.");
    free(s);

    /* deep enough to overflow the stack without the limit */
    s = nested("{a", "", "}", 1000000, &len);
    assert_string_equal(parse_n(s, len), "ERR 1:257 Syntax Error: Document "
                        "nesting too deep.");
    free(s);

    assert_string_equal(parse_lim(S("{a{b{c}}}"), 3, 0), "{a{b{c}}}");
    assert_string_equal(parse_lim(S("{a{b{c{d}}}}"), 3, 0), "ERR 1:7 Syntax "
                        "Error: Document nesting too deep.");

    /* list and object values count, with the selection set around them */
    assert_string_equal(parse_lim(S("{f(a: [[1]])}"), 3, 0),
                        "{f(a:[[1]])}");
    assert_string_equal(parse_lim(S("{f(a: [[[1]]])}"), 3, 0), "ERR 1:9 "
                        "Syntax Error: Document nesting too deep.");
    assert_string_equal(parse_lim(S("{f(a: {b: {c: 1}})}"), 3, 0),
                        "{f(a:{b:{c:1}})}");
    assert_string_equal(parse_lim(S("{f(a: {b: [{c: 1}]})}"), 3, 0),
                        "ERR 1:12 Syntax Error: Document nesting too deep.");

    /* values outside selection sets and list types */
    assert_string_equal(parse_lim(S("query($a: [[Int]] = [[1]]) {a}"), 2, 0),
                        "query($a:[[Int]]=[[1]]) {a}");
    assert_string_equal(parse_lim(S("query($a: [[[Int]]]) {a}"), 2, 0),
                        "ERR 1:13 Syntax Error: Document nesting too deep.");
    assert_string_equal(parse_lim(S("type T { f(a: [[[I]]]): I }"), 2, 0),
                        "ERR 1:17 Syntax Error: Document nesting too deep.");
    assert_string_equal(parse_lim(S("type T { f(a: I = [[[1]]]): I }"), 2, 0),
                        "ERR 1:21 Syntax Error: Document nesting too deep.");

    /* depth is released after each nested construct */
    assert_string_equal(parse_lim(S("{a{b} c{d} e{f}}"), 2, 0),
                        "{a{b} c{d} e{f}}");
    assert_string_equal(parse_lim(S("{f(a: [[1] [2] [3]], b: [[4]])}"), 3,
                                  0),
                        "{f(a:[[1] [2] [3]],b:[[4]])}");

    s = nested("[", "1", "]", 100000, &len);
    assert_string_equal(parse_n(s, len), "ERR 1:1 Syntax Error: "
                        "Unexpected \"[\".");
    free(s);

    /* {f(a: [{b: [{b: ... 1}]}] ...)} */
    s = nested("[{b:", "1", "}]", 100000, &len);
    p = malloc(len + 8);
    assert_non_null(p);
    memcpy(p, "{f(a:", 5);
    memcpy(p + 5, s, len);
    memcpy(p + 5 + len, ")}", 2);
    assert_string_equal(parse_n(p, len + 7), "ERR 1:259 Syntax Error: "
                        "Document nesting too deep.");
    free(p);
    free(s);
}


static void
test_large_document(void **state)
{
    char        *s;
    size_t       i, n, len;
    char         expect_tail[32];
    const char  *r;

    (void) state;

    /* one long line: column bookkeeping must stay linear */
    n = 200000;
    s = malloc(n * 4 + 3);
    assert_non_null(s);

    s[0] = '{';
    len = 1;

    for (i = 0; i < n; i++) {
        memcpy(s + len, " \xC3\xA9x", 4);
        len += 4;
    }

    s[len++] = '}';

    r = parse_n(s, len);
    assert_string_equal(r, "ERR 1:3 Syntax Error: Unexpected character: "
                        "U+00E9.");

    for (i = 0; i < n; i++) {
        memcpy(s + 1 + i * 4, " a,b", 4);
    }

    r = parse_n(s, len);
    assert_int_equal(strlen(r), 1 + n * 4 - 1 + 1);

    /* an error at the very end reports the right column */
    s[len - 1] = '?';
    r = parse_n(s, len);
    snprintf(expect_tail, sizeof(expect_tail), "ERR 1:%zu ", len);
    assert_true(strncmp(r, expect_tail, strlen(expect_tail)) == 0);

    free(s);
}


static void
test_api_edges(void **state)
{
    fql_arena_t         *a;
    fql_document_t      *doc;
    fql_parse_limits_t   lim;

    (void) state;

    a = fql_arena_heap_create();

    doc = NULL;
    assert_int_equal(fql_parse_document(a, NULL, 0, NULL, &doc, &perr), -1);
    assert_string_equal(perr.message, "Syntax Error: Unexpected <EOF>.");
    assert_int_equal(perr.loc.line, 1);
    assert_int_equal(perr.loc.column, 1);

    assert_int_equal(fql_parse_document(a, NULL, 5, NULL, &doc, &perr), -1);
    assert_int_equal(fql_parse_document(NULL, "{a}", 3, NULL, &doc, &perr),
                     -1);
    assert_int_equal(fql_parse_document(a, "{a}", 3, NULL, NULL, &perr), -1);

    /* err may be NULL */
    assert_int_equal(fql_parse_document(a, "{", 1, NULL, &doc, NULL), -1);
    assert_int_equal(fql_parse_document(a, "{a}", 3, NULL, &doc, NULL), 0);

    /* only len bytes are read: the rest is not GraphQL */
    assert_int_equal(fql_parse_document(a, "{a}}}}", 3, NULL, &doc, &perr),
                     0);

    lim.max_depth = 0;
    lim.max_tokens = 0;
    assert_int_equal(fql_parse_document(a, "{a}", 3, &lim, &doc, &perr), 0);

    fql_arena_heap_destroy(a);
}


/* an arena that fails after a number of allocations */

typedef struct {
    fql_arena_t   arena;
    fql_arena_t  *real;
    int           left;
} failing_arena_t;


static void *
failing_alloc(void *ctx, size_t size)
{
    failing_arena_t  *f = ctx;

    if (f->left-- <= 0) {
        return NULL;
    }

    return f->real->alloc(f->real->ctx, size);
}


static void
test_out_of_memory(void **state)
{
    failing_arena_t   f;
    fql_document_t   *doc;
    const char       *src;
    int               i, rc;

    (void) state;

    src = "\"\"\"d\"\"\" type T { f(a: I = \"x\\n\"): [I!] }\n"
          "query Q($v: Int = 1) @d { a: b(c: [{d: \"e\"}]) { ...F "
          "... on T { g } } }";

    for (i = 0; ; i++) {
        f.real = fql_arena_heap_create();
        f.arena.alloc = failing_alloc;
        f.arena.ctx = &f;
        f.left = i;

        rc = fql_parse_document(&f.arena, src, strlen(src), NULL, &doc,
                                &perr);

        fql_arena_heap_destroy(f.real);

        if (rc == 0) {
            break;
        }

        assert_string_equal(perr.message, "Out of memory.");
        assert_true(perr.loc.line >= 1);
    }

    assert_true(i > 20);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_lex_punctuators),
        cmocka_unit_test(test_lex_names_numbers),
        cmocka_unit_test(test_lex_ignored),
        cmocka_unit_test(test_lex_columns_unicode),
        cmocka_unit_test(test_lex_token_describe),
        cmocka_unit_test(test_lex_token_limit),
        cmocka_unit_test(test_number_errors),
        cmocka_unit_test(test_string_simple),
        cmocka_unit_test(test_string_escapes),
        cmocka_unit_test(test_string_errors),
        cmocka_unit_test(test_source_characters),
        cmocka_unit_test(test_block_string_dedent),
        cmocka_unit_test(test_block_string_errors),
        cmocka_unit_test(test_exec_operations),
        cmocka_unit_test(test_exec_selections),
        cmocka_unit_test(test_exec_values),
        cmocka_unit_test(test_exec_value_nodes),
        cmocka_unit_test(test_exec_locations),
        cmocka_unit_test(test_exec_errors),
        cmocka_unit_test(test_sdl_schema_scalar),
        cmocka_unit_test(test_sdl_object_interface),
        cmocka_unit_test(test_sdl_union_enum_input),
        cmocka_unit_test(test_sdl_directive),
        cmocka_unit_test(test_sdl_nodes),
        cmocka_unit_test(test_mixed_document),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_large_document),
        cmocka_unit_test(test_api_edges),
        cmocka_unit_test(test_out_of_memory),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
