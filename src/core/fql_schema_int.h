/*
 * The schema builder's state and the steps its parts share: fql_schema.c
 * builds the registry, fql_schema_gen.c the types it generates for the
 * connections and aggregates of @view types.
 */

#ifndef FQL_SCHEMA_INT_H
#define FQL_SCHEMA_INT_H

#include "fql_schema.h"
#include "fql_ast.h"


typedef struct {
    fql_arena_t         *arena;
    fql_schema_t        *schema;
    fql_parse_error_t   *err;
    unsigned             builtin;   /* loading fql_builtin_sdl */
} fql_sb_t;


int fql_sb_error(fql_sb_t *sb, fql_loc_t loc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

fql_directive_t *fql_find_directive(fql_directive_t *d, const char *name);
fql_value_t *fql_directive_arg(fql_directive_t *d, const char *name);

/* fql_auth.c: roles, rules and row filters of the document's types */
int fql_sb_auth(fql_sb_t *sb, fql_document_t *doc);

/* fql_cost.c: @cost and @listSize of the document's types and fields */
int fql_sb_cost(fql_sb_t *sb, fql_document_t *doc);

/* declares, then defines, every type of a parsed SDL document */
int fql_sb_load(fql_sb_t *sb, fql_document_t *doc);

/* parses SDL text and loads it (generated types: the text is sb's) */
int fql_sb_load_text(fql_sb_t *sb, const char *sdl, size_t len);

fql_type_t *fql_sb_new_type(fql_sb_t *sb, fql_type_kind_t kind,
    fql_str_t name);
fql_str_t fql_sb_concat(fql_sb_t *sb, fql_str_t a, const char *b);

/* fql_schema_gen.c: XConnection or XAggregate of an @view type X, when a
 * field names it; NULL (no error) when name is neither */
fql_type_t *fql_sb_gen_shell(fql_sb_t *sb, fql_str_t name, fql_loc_t loc);

/* fql_schema_gen.c: the @view type X of XConnection or XAggregate */
fql_type_t *fql_sb_gen_view(fql_sb_t *sb, fql_str_t name, fql_gen_t *gen);

/* fql_schema_gen.c: the fields of every shell, once all types are read */
int fql_sb_gen_fill(fql_sb_t *sb);

/* fql_schema_gen.c: a Query field returning a connection or aggregate */
int fql_sb_gen_root(fql_sb_t *sb, fql_field_t *f, fql_type_t *t);

/* the arguments of a list that a connection or aggregate takes too */
int fql_sb_list_control(fql_sb_t *sb, const fql_type_t *t,
    const fql_arg_t *a);

#endif /* FQL_SCHEMA_INT_H */
