/*
 * Recursive descent parser for GraphQL documents (October 2021 grammar,
 * executable and type system).  Every function that recurses through
 * selection sets, list and object values or list types goes through
 * fql_enter(), so stack use is bounded by max_depth.
 *
 * Functions return NULL or -1 after the error has been recorded; the
 * first error ends the parse.
 */

#include <stdio.h>
#include <string.h>

#include "fql_lexer.h"


#define FQL_DEFAULT_MAX_DEPTH  128

/* longest name quoted in a message */
#define FQL_NAME_MAX           64


typedef struct {
    fql_lexer_t    lx;
    fql_arena_t   *arena;
    unsigned       depth;
    unsigned       max_depth;
} fql_parser_t;


#define fql_tok(p)         (&(p)->lx.tok)
#define fql_peek(p, k)     ((p)->lx.tok.kind == (k))
#define fql_next(p)        fql_lexer_next(&(p)->lx)
#define fql_leave(p)       (p)->depth--


static const char  *fql_directive_locations[] = {
    "QUERY", "MUTATION", "SUBSCRIPTION", "FIELD", "FRAGMENT_DEFINITION",
    "FRAGMENT_SPREAD", "INLINE_FRAGMENT", "VARIABLE_DEFINITION", "SCHEMA",
    "SCALAR", "OBJECT", "FIELD_DEFINITION", "ARGUMENT_DEFINITION",
    "INTERFACE", "UNION", "ENUM", "ENUM_VALUE", "INPUT_OBJECT",
    "INPUT_FIELD_DEFINITION", NULL
};


static const struct {
    const char             *name;
    fql_definition_kind_t   kind;
} fql_type_keywords[] = {
    { "schema", FQL_DEF_SCHEMA },
    { "scalar", FQL_DEF_SCALAR },
    { "type", FQL_DEF_OBJECT },
    { "interface", FQL_DEF_INTERFACE },
    { "union", FQL_DEF_UNION },
    { "enum", FQL_DEF_ENUM },
    { "input", FQL_DEF_INPUT_OBJECT },
    { "directive", FQL_DEF_DIRECTIVE },
    { NULL, 0 }
};


static void *fql_node(fql_parser_t *p, size_t size);
static int fql_is_keyword(fql_parser_t *p, const char *kw);
static void fql_unexpected(fql_parser_t *p);
static void fql_expected(fql_parser_t *p, const char *what);
static int fql_expect(fql_parser_t *p, fql_token_kind_t kind);
static int fql_expect_keyword(fql_parser_t *p, const char *kw);
static int fql_expect_name(fql_parser_t *p, fql_str_t *name, fql_loc_t *loc);
static int fql_enter(fql_parser_t *p);
static int fql_op_type(fql_str_t name, fql_op_type_t *op);

static fql_definition_t *fql_parse_definition(fql_parser_t *p);
static fql_definition_t *fql_parse_operation(fql_parser_t *p);
static fql_definition_t *fql_parse_fragment(fql_parser_t *p);
static int fql_parse_variable_defs(fql_parser_t *p,
    fql_variable_def_t **out);
static int fql_parse_selection_set(fql_parser_t *p, fql_selection_t **out);
static fql_selection_t *fql_parse_selection(fql_parser_t *p);
static int fql_parse_arguments(fql_parser_t *p, int is_const,
    fql_argument_t **out);
static int fql_parse_directives(fql_parser_t *p, int is_const,
    fql_directive_t **out);
static fql_value_t *fql_parse_value(fql_parser_t *p, int is_const);
static fql_value_t *fql_parse_list_value(fql_parser_t *p, int is_const);
static fql_value_t *fql_parse_object_value(fql_parser_t *p, int is_const);
static fql_type_ref_t *fql_parse_type(fql_parser_t *p);

static int fql_type_keyword(fql_str_t name, fql_definition_kind_t *kind);
static fql_definition_t *fql_parse_extension(fql_parser_t *p);
static int fql_parse_type_def(fql_parser_t *p, fql_definition_t *def);
static int fql_parse_schema_def(fql_parser_t *p, fql_definition_t *def);
static int fql_parse_root_ops(fql_parser_t *p, fql_root_op_t **out);
static int fql_parse_object_def(fql_parser_t *p, fql_definition_t *def);
static int fql_parse_union_def(fql_parser_t *p, fql_definition_t *def);
static int fql_parse_enum_def(fql_parser_t *p, fql_definition_t *def);
static int fql_parse_input_def(fql_parser_t *p, fql_definition_t *def);
static int fql_parse_directive_def(fql_parser_t *p, fql_definition_t *def);
static int fql_parse_description(fql_parser_t *p, fql_str_t *desc);
static int fql_parse_names(fql_parser_t *p, fql_token_kind_t delim,
    int locations, fql_name_list_t **out);
static int fql_parse_field_defs(fql_parser_t *p, fql_field_def_t **out);
static int fql_parse_input_value_defs(fql_parser_t *p,
    fql_token_kind_t open, fql_token_kind_t close,
    fql_input_value_def_t **out);
static int fql_parse_enum_value_defs(fql_parser_t *p,
    fql_enum_value_def_t **out);


int
fql_parse_document(fql_arena_t *a, const char *src, size_t len,
    const fql_parse_limits_t *limits, fql_document_t **doc,
    fql_parse_error_t *err)
{
    fql_parser_t          parser;
    fql_parse_error_t     dummy;
    fql_document_t       *d;
    fql_definition_t     *def, **tail;

    if (err == NULL) {
        err = &dummy;
    }

    memset(err, 0, sizeof(fql_parse_error_t));

    if (a == NULL || doc == NULL || (src == NULL && len != 0)) {
        snprintf(err->message, sizeof(err->message), "Invalid arguments.");
        return -1;
    }

    fql_lexer_init(&parser.lx, a, src, len,
                   limits ? limits->max_tokens : 0, err);

    parser.arena = a;
    parser.depth = 0;
    parser.max_depth = (limits && limits->max_depth) ? limits->max_depth
                                                     : FQL_DEFAULT_MAX_DEPTH;

    if (fql_next(&parser) != 0) {
        return -1;
    }

    d = fql_node(&parser, sizeof(fql_document_t));
    if (d == NULL) {
        return -1;
    }

    tail = &d->definitions;

    /* Document :: Definition+ */

    do {
        def = fql_parse_definition(&parser);
        if (def == NULL) {
            return -1;
        }

        *tail = def;
        tail = &def->next;

    } while (!fql_peek(&parser, FQL_TOK_EOF));

    *doc = d;

    return 0;
}


/* one value, alone in src: the text of a directive's GraphQL argument */
int
fql_parse_value_text(fql_arena_t *a, const char *src, size_t len,
    fql_value_t **out, fql_parse_error_t *err)
{
    fql_parser_t   parser;
    fql_value_t   *v;

    memset(err, 0, sizeof(fql_parse_error_t));

    fql_lexer_init(&parser.lx, a, src, len, 0, err);

    parser.arena = a;
    parser.depth = 0;
    parser.max_depth = FQL_DEFAULT_MAX_DEPTH;

    if (fql_next(&parser) != 0) {
        return -1;
    }

    v = fql_parse_value(&parser, 0);
    if (v == NULL) {
        return -1;
    }

    if (!fql_peek(&parser, FQL_TOK_EOF)) {
        fql_unexpected(&parser);
        return -1;
    }

    *out = v;

    return 0;
}


static void *
fql_node(fql_parser_t *p, size_t size)
{
    void  *n;

    n = fql_calloc(p->arena, size);
    if (n == NULL) {
        fql_lexer_oom(&p->lx);
    }

    return n;
}


static int
fql_is_keyword(fql_parser_t *p, const char *kw)
{
    return fql_peek(p, FQL_TOK_NAME) && fql_str_eqz(fql_tok(p)->value, kw);
}


static void
fql_unexpected(fql_parser_t *p)
{
    char  found[128];

    fql_token_describe(fql_tok(p), found, sizeof(found));
    fql_lexer_error(&p->lx, fql_tok(p)->loc, "Unexpected %s.", found);
}


/* `what` is already quoted as needed: Name, "{", "on" */
static void
fql_expected(fql_parser_t *p, const char *what)
{
    char  found[128];

    fql_token_describe(fql_tok(p), found, sizeof(found));
    fql_lexer_error(&p->lx, fql_tok(p)->loc, "Expected %s, found %s.", what,
                    found);
}


/* consumes a token of the given kind */
static int
fql_expect(fql_parser_t *p, fql_token_kind_t kind)
{
    char  what[16];

    if (fql_peek(p, kind)) {
        return fql_next(p);
    }

    snprintf(what, sizeof(what), kind < FQL_TOK_NAME ? "\"%s\"" : "%s",
             fql_token_kind_name(kind));
    fql_expected(p, what);

    return -1;
}


static int
fql_expect_keyword(fql_parser_t *p, const char *kw)
{
    char  what[32];

    if (fql_is_keyword(p, kw)) {
        return fql_next(p);
    }

    snprintf(what, sizeof(what), "\"%s\"", kw);
    fql_expected(p, what);

    return -1;
}


static int
fql_expect_name(fql_parser_t *p, fql_str_t *name, fql_loc_t *loc)
{
    if (!fql_peek(p, FQL_TOK_NAME)) {
        fql_expected(p, "Name");
        return -1;
    }

    *name = fql_tok(p)->value;

    if (loc) {
        *loc = fql_tok(p)->loc;
    }

    return fql_next(p);
}


/* called at the token that opens a nesting level */
static int
fql_enter(fql_parser_t *p)
{
    if (p->depth >= p->max_depth) {
        fql_lexer_error(&p->lx, fql_tok(p)->loc,
                        "Document nesting too deep.");
        return -1;
    }

    p->depth++;

    return 0;
}


static int
fql_op_type(fql_str_t name, fql_op_type_t *op)
{
    if (fql_str_eqz(name, "query")) {
        *op = FQL_OP_QUERY;

    } else if (fql_str_eqz(name, "mutation")) {
        *op = FQL_OP_MUTATION;

    } else if (fql_str_eqz(name, "subscription")) {
        *op = FQL_OP_SUBSCRIPTION;

    } else {
        return -1;
    }

    return 0;
}


static fql_definition_t *
fql_parse_definition(fql_parser_t *p)
{
    fql_token_t            *tok;
    fql_definition_t       *def;
    fql_definition_kind_t   kind;
    fql_str_t               desc;
    fql_loc_t               desc_loc;
    fql_op_type_t           op;

    tok = fql_tok(p);
    desc_loc = tok->loc;

    if (fql_parse_description(p, &desc) != 0) {
        return NULL;
    }

    if (tok->kind == FQL_TOK_NAME && fql_type_keyword(tok->value, &kind) == 0)
    {
        def = fql_node(p, sizeof(fql_definition_t));
        if (def == NULL) {
            return NULL;
        }

        def->kind = kind;
        def->loc = tok->loc;
        def->description = desc;

        return fql_parse_type_def(p, def) == 0 ? def : NULL;
    }

    if (desc.data != NULL) {
        fql_lexer_error(&p->lx, desc_loc, "Unexpected description, "
                        "descriptions are supported only on type "
                        "definitions.");
        return NULL;
    }

    if (tok->kind == FQL_TOK_BRACE_L) {
        return fql_parse_operation(p);
    }

    if (tok->kind == FQL_TOK_NAME) {

        if (fql_op_type(tok->value, &op) == 0) {
            return fql_parse_operation(p);
        }

        if (fql_str_eqz(tok->value, "fragment")) {
            return fql_parse_fragment(p);
        }

        if (fql_str_eqz(tok->value, "extend")) {
            return fql_parse_extension(p);
        }
    }

    fql_unexpected(p);

    return NULL;
}


/* at "query", "mutation", "subscription" or "{" */
static fql_definition_t *
fql_parse_operation(fql_parser_t *p)
{
    fql_definition_t  *def;

    def = fql_node(p, sizeof(fql_definition_t));
    if (def == NULL) {
        return NULL;
    }

    def->kind = FQL_DEF_OPERATION;
    def->loc = fql_tok(p)->loc;

    if (fql_peek(p, FQL_TOK_BRACE_L)) {
        def->shorthand = 1;
        def->op = FQL_OP_QUERY;

        return fql_parse_selection_set(p, &def->selections) == 0 ? def : NULL;
    }

    (void) fql_op_type(fql_tok(p)->value, &def->op);

    if (fql_next(p) != 0) {
        return NULL;
    }

    if (fql_peek(p, FQL_TOK_NAME)) {
        def->name = fql_tok(p)->value;

        if (fql_next(p) != 0) {
            return NULL;
        }
    }

    if (fql_peek(p, FQL_TOK_PAREN_L)
        && fql_parse_variable_defs(p, &def->variables) != 0)
    {
        return NULL;
    }

    if (fql_parse_directives(p, 0, &def->directives) != 0
        || fql_parse_selection_set(p, &def->selections) != 0)
    {
        return NULL;
    }

    return def;
}


/* at "fragment" */
static fql_definition_t *
fql_parse_fragment(fql_parser_t *p)
{
    fql_definition_t  *def;

    def = fql_node(p, sizeof(fql_definition_t));
    if (def == NULL) {
        return NULL;
    }

    def->kind = FQL_DEF_FRAGMENT;
    def->loc = fql_tok(p)->loc;

    if (fql_next(p) != 0) {
        return NULL;
    }

    /* `on` would make "fragment on on T" ambiguous */

    if (fql_is_keyword(p, "on")) {
        fql_unexpected(p);
        return NULL;
    }

    if (fql_expect_name(p, &def->name, NULL) != 0
        || fql_expect_keyword(p, "on") != 0
        || fql_expect_name(p, &def->type_condition, NULL) != 0
        || fql_parse_directives(p, 0, &def->directives) != 0
        || fql_parse_selection_set(p, &def->selections) != 0)
    {
        return NULL;
    }

    return def;
}


/* ( VariableDefinition+ ) */
static int
fql_parse_variable_defs(fql_parser_t *p, fql_variable_def_t **out)
{
    fql_variable_def_t  *v, **tail;

    if (fql_expect(p, FQL_TOK_PAREN_L) != 0) {
        return -1;
    }

    tail = out;

    do {
        v = fql_node(p, sizeof(fql_variable_def_t));
        if (v == NULL) {
            return -1;
        }

        v->loc = fql_tok(p)->loc;

        if (fql_expect(p, FQL_TOK_DOLLAR) != 0
            || fql_expect_name(p, &v->name, NULL) != 0
            || fql_expect(p, FQL_TOK_COLON) != 0)
        {
            return -1;
        }

        v->type = fql_parse_type(p);
        if (v->type == NULL) {
            return -1;
        }

        if (fql_peek(p, FQL_TOK_EQUALS)) {
            if (fql_next(p) != 0) {
                return -1;
            }

            v->default_value = fql_parse_value(p, 1);
            if (v->default_value == NULL) {
                return -1;
            }
        }

        if (fql_parse_directives(p, 1, &v->directives) != 0) {
            return -1;
        }

        *tail = v;
        tail = &v->next;

    } while (!fql_peek(p, FQL_TOK_PAREN_R));

    return fql_next(p);
}


/* { Selection+ } */
static int
fql_parse_selection_set(fql_parser_t *p, fql_selection_t **out)
{
    fql_selection_t  *s, **tail;

    if (!fql_peek(p, FQL_TOK_BRACE_L)) {
        return fql_expect(p, FQL_TOK_BRACE_L);
    }

    if (fql_enter(p) != 0 || fql_next(p) != 0) {
        return -1;
    }

    tail = out;

    do {
        s = fql_parse_selection(p);
        if (s == NULL) {
            return -1;
        }

        *tail = s;
        tail = &s->next;

    } while (!fql_peek(p, FQL_TOK_BRACE_R));

    fql_leave(p);

    return fql_next(p);
}


static fql_selection_t *
fql_parse_selection(fql_parser_t *p)
{
    fql_selection_t  *s;

    s = fql_node(p, sizeof(fql_selection_t));
    if (s == NULL) {
        return NULL;
    }

    s->loc = fql_tok(p)->loc;

    if (fql_peek(p, FQL_TOK_SPREAD)) {

        if (fql_next(p) != 0) {
            return NULL;
        }

        if (fql_peek(p, FQL_TOK_NAME) && !fql_is_keyword(p, "on")) {
            s->kind = FQL_SEL_SPREAD;
            s->name = fql_tok(p)->value;

            if (fql_next(p) != 0
                || fql_parse_directives(p, 0, &s->directives) != 0)
            {
                return NULL;
            }

            return s;
        }

        s->kind = FQL_SEL_INLINE;

        if (fql_is_keyword(p, "on")) {
            if (fql_next(p) != 0
                || fql_expect_name(p, &s->type_condition, NULL) != 0)
            {
                return NULL;
            }
        }

        if (fql_parse_directives(p, 0, &s->directives) != 0
            || fql_parse_selection_set(p, &s->selections) != 0)
        {
            return NULL;
        }

        return s;
    }

    s->kind = FQL_SEL_FIELD;

    if (fql_expect_name(p, &s->name, NULL) != 0) {
        return NULL;
    }

    if (fql_peek(p, FQL_TOK_COLON)) {
        s->alias = s->name;

        if (fql_next(p) != 0 || fql_expect_name(p, &s->name, NULL) != 0) {
            return NULL;
        }
    }

    if (fql_peek(p, FQL_TOK_PAREN_L)
        && fql_parse_arguments(p, 0, &s->args) != 0)
    {
        return NULL;
    }

    if (fql_parse_directives(p, 0, &s->directives) != 0) {
        return NULL;
    }

    if (fql_peek(p, FQL_TOK_BRACE_L)
        && fql_parse_selection_set(p, &s->selections) != 0)
    {
        return NULL;
    }

    return s;
}


/* ( Argument+ ) */
static int
fql_parse_arguments(fql_parser_t *p, int is_const, fql_argument_t **out)
{
    fql_argument_t  *arg, **tail;

    if (fql_expect(p, FQL_TOK_PAREN_L) != 0) {
        return -1;
    }

    tail = out;

    do {
        arg = fql_node(p, sizeof(fql_argument_t));
        if (arg == NULL) {
            return -1;
        }

        if (fql_expect_name(p, &arg->name, &arg->loc) != 0
            || fql_expect(p, FQL_TOK_COLON) != 0)
        {
            return -1;
        }

        arg->value = fql_parse_value(p, is_const);
        if (arg->value == NULL) {
            return -1;
        }

        *tail = arg;
        tail = &arg->next;

    } while (!fql_peek(p, FQL_TOK_PAREN_R));

    return fql_next(p);
}


/* Directive* */
static int
fql_parse_directives(fql_parser_t *p, int is_const, fql_directive_t **out)
{
    fql_directive_t  *d, **tail;

    tail = out;

    while (fql_peek(p, FQL_TOK_AT)) {
        d = fql_node(p, sizeof(fql_directive_t));
        if (d == NULL) {
            return -1;
        }

        d->loc = fql_tok(p)->loc;

        if (fql_next(p) != 0 || fql_expect_name(p, &d->name, NULL) != 0) {
            return -1;
        }

        if (fql_peek(p, FQL_TOK_PAREN_L)
            && fql_parse_arguments(p, is_const, &d->args) != 0)
        {
            return -1;
        }

        *tail = d;
        tail = &d->next;
    }

    return 0;
}


static fql_value_t *
fql_parse_value(fql_parser_t *p, int is_const)
{
    fql_token_t  *tok;
    fql_value_t  *v;
    fql_loc_t     loc;

    tok = fql_tok(p);

    switch (tok->kind) {

    case FQL_TOK_BRACKET_L:
        return fql_parse_list_value(p, is_const);

    case FQL_TOK_BRACE_L:
        return fql_parse_object_value(p, is_const);

    case FQL_TOK_DOLLAR:
        loc = tok->loc;

        if (fql_next(p) != 0) {
            return NULL;
        }

        if (is_const) {
            if (tok->kind == FQL_TOK_NAME) {
                fql_lexer_error(&p->lx, loc, "Unexpected variable \"$%.*s\" "
                                "in constant value.",
                                (int) (tok->value.len > FQL_NAME_MAX
                                       ? FQL_NAME_MAX : tok->value.len),
                                tok->value.data);
            } else {
                fql_unexpected(p);
            }

            return NULL;
        }

        v = fql_node(p, sizeof(fql_value_t));
        if (v == NULL) {
            return NULL;
        }

        v->kind = FQL_VAL_VARIABLE;
        v->loc = loc;

        return fql_expect_name(p, &v->str, NULL) == 0 ? v : NULL;

    case FQL_TOK_INT:
    case FQL_TOK_FLOAT:
    case FQL_TOK_STRING:
    case FQL_TOK_BLOCK_STRING:
    case FQL_TOK_NAME:
        break;

    default:
        fql_unexpected(p);
        return NULL;
    }

    v = fql_node(p, sizeof(fql_value_t));
    if (v == NULL) {
        return NULL;
    }

    v->loc = tok->loc;
    v->str = tok->value;

    switch (tok->kind) {

    case FQL_TOK_INT:
        v->kind = FQL_VAL_INT;
        break;

    case FQL_TOK_FLOAT:
        v->kind = FQL_VAL_FLOAT;
        break;

    case FQL_TOK_STRING:
        v->kind = FQL_VAL_STRING;
        break;

    case FQL_TOK_BLOCK_STRING:
        v->kind = FQL_VAL_STRING;
        v->block = 1;
        break;

    default: /* FQL_TOK_NAME */

        if (fql_str_eqz(tok->value, "true")) {
            v->kind = FQL_VAL_BOOLEAN;
            v->boolean = 1;

        } else if (fql_str_eqz(tok->value, "false")) {
            v->kind = FQL_VAL_BOOLEAN;

        } else if (fql_str_eqz(tok->value, "null")) {
            v->kind = FQL_VAL_NULL;

        } else {
            v->kind = FQL_VAL_ENUM;
        }
    }

    return fql_next(p) == 0 ? v : NULL;
}


/* [ Value* ] */
static fql_value_t *
fql_parse_list_value(fql_parser_t *p, int is_const)
{
    fql_value_t  *v, *item, **tail;

    if (fql_enter(p) != 0) {
        return NULL;
    }

    v = fql_node(p, sizeof(fql_value_t));
    if (v == NULL) {
        return NULL;
    }

    v->kind = FQL_VAL_LIST;
    v->loc = fql_tok(p)->loc;

    if (fql_next(p) != 0) {
        return NULL;
    }

    tail = &v->items;

    while (!fql_peek(p, FQL_TOK_BRACKET_R)) {
        item = fql_parse_value(p, is_const);
        if (item == NULL) {
            return NULL;
        }

        *tail = item;
        tail = &item->next;
    }

    fql_leave(p);

    return fql_next(p) == 0 ? v : NULL;
}


/* { ObjectField* } */
static fql_value_t *
fql_parse_object_value(fql_parser_t *p, int is_const)
{
    fql_value_t          *v;
    fql_object_field_t   *f, **tail;

    if (fql_enter(p) != 0) {
        return NULL;
    }

    v = fql_node(p, sizeof(fql_value_t));
    if (v == NULL) {
        return NULL;
    }

    v->kind = FQL_VAL_OBJECT;
    v->loc = fql_tok(p)->loc;

    if (fql_next(p) != 0) {
        return NULL;
    }

    tail = &v->fields;

    while (!fql_peek(p, FQL_TOK_BRACE_R)) {
        f = fql_node(p, sizeof(fql_object_field_t));
        if (f == NULL) {
            return NULL;
        }

        if (fql_expect_name(p, &f->name, &f->loc) != 0
            || fql_expect(p, FQL_TOK_COLON) != 0)
        {
            return NULL;
        }

        f->value = fql_parse_value(p, is_const);
        if (f->value == NULL) {
            return NULL;
        }

        *tail = f;
        tail = &f->next;
    }

    fql_leave(p);

    return fql_next(p) == 0 ? v : NULL;
}


/* NamedType, [Type], Type! */
static fql_type_ref_t *
fql_parse_type(fql_parser_t *p)
{
    fql_type_ref_t  *t, *nn;

    t = fql_node(p, sizeof(fql_type_ref_t));
    if (t == NULL) {
        return NULL;
    }

    t->loc = fql_tok(p)->loc;

    if (fql_peek(p, FQL_TOK_BRACKET_L)) {
        t->kind = FQL_TYPE_LIST;

        if (fql_enter(p) != 0 || fql_next(p) != 0) {
            return NULL;
        }

        t->of = fql_parse_type(p);

        if (t->of == NULL || fql_expect(p, FQL_TOK_BRACKET_R) != 0) {
            return NULL;
        }

        fql_leave(p);

    } else {
        t->kind = FQL_TYPE_NAMED;

        if (fql_expect_name(p, &t->name, NULL) != 0) {
            return NULL;
        }
    }

    if (!fql_peek(p, FQL_TOK_BANG)) {
        return t;
    }

    nn = fql_node(p, sizeof(fql_type_ref_t));
    if (nn == NULL) {
        return NULL;
    }

    nn->kind = FQL_TYPE_NON_NULL;
    nn->loc = t->loc;
    nn->of = t;

    return fql_next(p) == 0 ? nn : NULL;
}


static int
fql_type_keyword(fql_str_t name, fql_definition_kind_t *kind)
{
    size_t  i;

    for (i = 0; fql_type_keywords[i].name; i++) {
        if (fql_str_eqz(name, fql_type_keywords[i].name)) {
            *kind = fql_type_keywords[i].kind;
            return 0;
        }
    }

    return -1;
}


/* at "extend" */
static fql_definition_t *
fql_parse_extension(fql_parser_t *p)
{
    fql_definition_t       *def;
    fql_definition_kind_t   kind;
    fql_loc_t               loc;

    loc = fql_tok(p)->loc;

    if (fql_next(p) != 0) {
        return NULL;
    }

    if (!fql_peek(p, FQL_TOK_NAME)
        || fql_type_keyword(fql_tok(p)->value, &kind) != 0
        || kind == FQL_DEF_DIRECTIVE)
    {
        fql_unexpected(p);
        return NULL;
    }

    def = fql_node(p, sizeof(fql_definition_t));
    if (def == NULL) {
        return NULL;
    }

    def->kind = kind;
    def->loc = loc;
    def->extension = 1;

    return fql_parse_type_def(p, def) == 0 ? def : NULL;
}


/* at the keyword; def has kind, loc, description and extension set */
static int
fql_parse_type_def(fql_parser_t *p, fql_definition_t *def)
{
    if (fql_next(p) != 0) {
        return -1;
    }

    switch (def->kind) {

    case FQL_DEF_SCHEMA:
        return fql_parse_schema_def(p, def);

    case FQL_DEF_OBJECT:
    case FQL_DEF_INTERFACE:
        return fql_parse_object_def(p, def);

    case FQL_DEF_UNION:
        return fql_parse_union_def(p, def);

    case FQL_DEF_ENUM:
        return fql_parse_enum_def(p, def);

    case FQL_DEF_INPUT_OBJECT:
        return fql_parse_input_def(p, def);

    case FQL_DEF_DIRECTIVE:
        return fql_parse_directive_def(p, def);

    default: /* FQL_DEF_SCALAR */
        break;
    }

    if (fql_expect_name(p, &def->name, NULL) != 0
        || fql_parse_directives(p, 1, &def->directives) != 0)
    {
        return -1;
    }

    if (def->extension && def->directives == NULL) {
        fql_unexpected(p);
        return -1;
    }

    return 0;
}


static int
fql_parse_schema_def(fql_parser_t *p, fql_definition_t *def)
{
    if (fql_parse_directives(p, 1, &def->directives) != 0) {
        return -1;
    }

    if (def->extension && !fql_peek(p, FQL_TOK_BRACE_L)) {
        if (def->directives == NULL) {
            fql_unexpected(p);
            return -1;
        }

        return 0;
    }

    return fql_parse_root_ops(p, &def->root_ops);
}


/* { RootOperationTypeDefinition+ } */
static int
fql_parse_root_ops(fql_parser_t *p, fql_root_op_t **out)
{
    fql_root_op_t  *r, **tail;

    if (fql_expect(p, FQL_TOK_BRACE_L) != 0) {
        return -1;
    }

    tail = out;

    do {
        r = fql_node(p, sizeof(fql_root_op_t));
        if (r == NULL) {
            return -1;
        }

        r->loc = fql_tok(p)->loc;

        if (!fql_peek(p, FQL_TOK_NAME)
            || fql_op_type(fql_tok(p)->value, &r->op) != 0)
        {
            fql_unexpected(p);
            return -1;
        }

        if (fql_next(p) != 0
            || fql_expect(p, FQL_TOK_COLON) != 0
            || fql_expect_name(p, &r->type_name, NULL) != 0)
        {
            return -1;
        }

        *tail = r;
        tail = &r->next;

    } while (!fql_peek(p, FQL_TOK_BRACE_R));

    return fql_next(p);
}


/* type and interface definitions and extensions */
static int
fql_parse_object_def(fql_parser_t *p, fql_definition_t *def)
{
    if (fql_expect_name(p, &def->name, NULL) != 0) {
        return -1;
    }

    if (fql_is_keyword(p, "implements")) {
        if (fql_next(p) != 0
            || fql_parse_names(p, FQL_TOK_AMP, 0, &def->interfaces) != 0)
        {
            return -1;
        }
    }

    if (fql_parse_directives(p, 1, &def->directives) != 0) {
        return -1;
    }

    if (fql_peek(p, FQL_TOK_BRACE_L)) {
        return fql_parse_field_defs(p, &def->fields);
    }

    if (def->extension && def->interfaces == NULL
        && def->directives == NULL)
    {
        fql_unexpected(p);
        return -1;
    }

    return 0;
}


static int
fql_parse_union_def(fql_parser_t *p, fql_definition_t *def)
{
    if (fql_expect_name(p, &def->name, NULL) != 0
        || fql_parse_directives(p, 1, &def->directives) != 0)
    {
        return -1;
    }

    if (fql_peek(p, FQL_TOK_EQUALS)) {
        return fql_next(p) == 0
               ? fql_parse_names(p, FQL_TOK_PIPE, 0, &def->members) : -1;
    }

    if (def->extension && def->directives == NULL) {
        fql_unexpected(p);
        return -1;
    }

    return 0;
}


static int
fql_parse_enum_def(fql_parser_t *p, fql_definition_t *def)
{
    if (fql_expect_name(p, &def->name, NULL) != 0
        || fql_parse_directives(p, 1, &def->directives) != 0)
    {
        return -1;
    }

    if (fql_peek(p, FQL_TOK_BRACE_L)) {
        return fql_parse_enum_value_defs(p, &def->values);
    }

    if (def->extension && def->directives == NULL) {
        fql_unexpected(p);
        return -1;
    }

    return 0;
}


static int
fql_parse_input_def(fql_parser_t *p, fql_definition_t *def)
{
    if (fql_expect_name(p, &def->name, NULL) != 0
        || fql_parse_directives(p, 1, &def->directives) != 0)
    {
        return -1;
    }

    if (fql_peek(p, FQL_TOK_BRACE_L)) {
        return fql_parse_input_value_defs(p, FQL_TOK_BRACE_L,
                                          FQL_TOK_BRACE_R,
                                          &def->input_fields);
    }

    if (def->extension && def->directives == NULL) {
        fql_unexpected(p);
        return -1;
    }

    return 0;
}


/* directive @name ArgumentsDefinition? repeatable? on DirectiveLocations */
static int
fql_parse_directive_def(fql_parser_t *p, fql_definition_t *def)
{
    if (fql_expect(p, FQL_TOK_AT) != 0
        || fql_expect_name(p, &def->name, NULL) != 0)
    {
        return -1;
    }

    if (fql_peek(p, FQL_TOK_PAREN_L)
        && fql_parse_input_value_defs(p, FQL_TOK_PAREN_L, FQL_TOK_PAREN_R,
                                      &def->input_fields) != 0)
    {
        return -1;
    }

    if (fql_is_keyword(p, "repeatable")) {
        def->repeatable = 1;

        if (fql_next(p) != 0) {
            return -1;
        }
    }

    if (fql_expect_keyword(p, "on") != 0) {
        return -1;
    }

    return fql_parse_names(p, FQL_TOK_PIPE, 1, &def->locations);
}


/* an optional description: sets desc->data to NULL when there is none */
static int
fql_parse_description(fql_parser_t *p, fql_str_t *desc)
{
    if (fql_peek(p, FQL_TOK_STRING) || fql_peek(p, FQL_TOK_BLOCK_STRING)) {
        *desc = fql_tok(p)->value;
        return fql_next(p);
    }

    desc->data = NULL;
    desc->len = 0;

    return 0;
}


/*
 * delim? Name (delim Name)*: implements lists (&), union members and
 * directive locations (|); locations must be known DirectiveLocations
 */
static int
fql_parse_names(fql_parser_t *p, fql_token_kind_t delim, int locations,
    fql_name_list_t **out)
{
    fql_name_list_t  *n, **tail;
    size_t            i;

    if (fql_peek(p, delim) && fql_next(p) != 0) {
        return -1;
    }

    tail = out;

    for ( ;; ) {
        n = fql_node(p, sizeof(fql_name_list_t));
        if (n == NULL) {
            return -1;
        }

        if (locations && fql_peek(p, FQL_TOK_NAME)) {
            for (i = 0; fql_directive_locations[i]; i++) {
                if (fql_str_eqz(fql_tok(p)->value,
                                fql_directive_locations[i]))
                {
                    break;
                }
            }

            if (fql_directive_locations[i] == NULL) {
                fql_unexpected(p);
                return -1;
            }
        }

        if (fql_expect_name(p, &n->name, &n->loc) != 0) {
            return -1;
        }

        *tail = n;
        tail = &n->next;

        if (!fql_peek(p, delim)) {
            return 0;
        }

        if (fql_next(p) != 0) {
            return -1;
        }
    }
}


/* { FieldDefinition+ } */
static int
fql_parse_field_defs(fql_parser_t *p, fql_field_def_t **out)
{
    fql_field_def_t  *f, **tail;

    if (fql_expect(p, FQL_TOK_BRACE_L) != 0) {
        return -1;
    }

    tail = out;

    do {
        f = fql_node(p, sizeof(fql_field_def_t));
        if (f == NULL) {
            return -1;
        }

        if (fql_parse_description(p, &f->description) != 0
            || fql_expect_name(p, &f->name, &f->loc) != 0)
        {
            return -1;
        }

        if (fql_peek(p, FQL_TOK_PAREN_L)
            && fql_parse_input_value_defs(p, FQL_TOK_PAREN_L,
                                          FQL_TOK_PAREN_R, &f->args) != 0)
        {
            return -1;
        }

        if (fql_expect(p, FQL_TOK_COLON) != 0) {
            return -1;
        }

        f->type = fql_parse_type(p);

        if (f->type == NULL
            || fql_parse_directives(p, 1, &f->directives) != 0)
        {
            return -1;
        }

        *tail = f;
        tail = &f->next;

    } while (!fql_peek(p, FQL_TOK_BRACE_R));

    return fql_next(p);
}


/* ( InputValueDefinition+ ) or { InputValueDefinition+ } */
static int
fql_parse_input_value_defs(fql_parser_t *p, fql_token_kind_t open,
    fql_token_kind_t close, fql_input_value_def_t **out)
{
    fql_input_value_def_t  *iv, **tail;

    if (fql_expect(p, open) != 0) {
        return -1;
    }

    tail = out;

    do {
        iv = fql_node(p, sizeof(fql_input_value_def_t));
        if (iv == NULL) {
            return -1;
        }

        if (fql_parse_description(p, &iv->description) != 0
            || fql_expect_name(p, &iv->name, &iv->loc) != 0
            || fql_expect(p, FQL_TOK_COLON) != 0)
        {
            return -1;
        }

        iv->type = fql_parse_type(p);
        if (iv->type == NULL) {
            return -1;
        }

        if (fql_peek(p, FQL_TOK_EQUALS)) {
            if (fql_next(p) != 0) {
                return -1;
            }

            iv->default_value = fql_parse_value(p, 1);
            if (iv->default_value == NULL) {
                return -1;
            }
        }

        if (fql_parse_directives(p, 1, &iv->directives) != 0) {
            return -1;
        }

        *tail = iv;
        tail = &iv->next;

    } while (!fql_peek(p, close));

    return fql_next(p);
}


/* { EnumValueDefinition+ } */
static int
fql_parse_enum_value_defs(fql_parser_t *p, fql_enum_value_def_t **out)
{
    fql_enum_value_def_t  *ev, **tail;
    fql_token_t           *tok;
    char                   desc[128];

    if (fql_expect(p, FQL_TOK_BRACE_L) != 0) {
        return -1;
    }

    tok = fql_tok(p);
    tail = out;

    do {
        ev = fql_node(p, sizeof(fql_enum_value_def_t));
        if (ev == NULL) {
            return -1;
        }

        if (fql_parse_description(p, &ev->description) != 0) {
            return -1;
        }

        if (fql_is_keyword(p, "true") || fql_is_keyword(p, "false")
            || fql_is_keyword(p, "null"))
        {
            fql_token_describe(tok, desc, sizeof(desc));
            fql_lexer_error(&p->lx, tok->loc, "%s is reserved and cannot be "
                            "used for an enum value.", desc);
            return -1;
        }

        if (fql_expect_name(p, &ev->name, &ev->loc) != 0
            || fql_parse_directives(p, 1, &ev->directives) != 0)
        {
            return -1;
        }

        *tail = ev;
        tail = &ev->next;

    } while (!fql_peek(p, FQL_TOK_BRACE_R));

    return fql_next(p);
}
