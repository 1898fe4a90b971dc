/*
 * GraphQL lexer (October 2021 lexical grammar), internal to the parser.
 * One token of lookahead; string values are decoded into the arena as
 * they are lexed.
 */

#ifndef FQL_LEXER_H
#define FQL_LEXER_H

#include "fql_ast.h"


typedef enum {
    FQL_TOK_EOF = 0,
    FQL_TOK_BANG,           /* ! */
    FQL_TOK_DOLLAR,         /* $ */
    FQL_TOK_AMP,            /* & */
    FQL_TOK_PAREN_L,        /* ( */
    FQL_TOK_PAREN_R,        /* ) */
    FQL_TOK_SPREAD,         /* ... */
    FQL_TOK_COLON,          /* : */
    FQL_TOK_EQUALS,         /* = */
    FQL_TOK_AT,             /* @ */
    FQL_TOK_BRACKET_L,      /* [ */
    FQL_TOK_BRACKET_R,      /* ] */
    FQL_TOK_BRACE_L,        /* { */
    FQL_TOK_PIPE,           /* | */
    FQL_TOK_BRACE_R,        /* } */
    FQL_TOK_NAME,
    FQL_TOK_INT,
    FQL_TOK_FLOAT,
    FQL_TOK_STRING,
    FQL_TOK_BLOCK_STRING
} fql_token_kind_t;


typedef struct {
    fql_token_kind_t   kind;
    fql_loc_t          loc;
    /*
     * NAME, INT, FLOAT: the lexeme (points into the source);
     * STRING, BLOCK_STRING: the decoded value, NUL-terminated, in the arena
     */
    fql_str_t          value;
} fql_token_t;


typedef struct {
    fql_arena_t           *arena;
    const unsigned char   *start;
    const unsigned char   *end;
    const unsigned char   *pos;        /* where the next token is sought */

    /* column bookkeeping: `col` is the column of `cpos` on line `line` */
    const unsigned char   *cpos;
    uint32_t               line;
    uint32_t               col;

    unsigned               ntokens;
    unsigned               max_tokens;  /* 0: unlimited */

    fql_token_t            tok;         /* the current token */
    fql_parse_error_t     *err;
} fql_lexer_t;


void fql_lexer_init(fql_lexer_t *lx, fql_arena_t *a, const char *src,
    size_t len, unsigned max_tokens, fql_parse_error_t *err);

/* reads the next token into lx->tok; 0, or -1 with lx->err set */
int fql_lexer_next(fql_lexer_t *lx);

/* fills lx->err with "Syntax Error: " followed by the formatted message */
void fql_lexer_error(fql_lexer_t *lx, fql_loc_t loc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* reports allocation failure at the current token */
void fql_lexer_oom(fql_lexer_t *lx);

/* describes a token for messages: <EOF>, "{", Name "foo", String "x" */
void fql_token_describe(const fql_token_t *tok, char *buf, size_t size);

/* the spelling of a token kind: "{", Name, <EOF> */
const char *fql_token_kind_name(fql_token_kind_t kind);

#endif /* FQL_LEXER_H */
