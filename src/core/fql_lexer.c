/*
 * GraphQL lexer.  Works on (src, len) without a terminating NUL, validates
 * UTF-8 and source characters where non-ASCII text may appear (strings and
 * comments), and decodes string values into the arena.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fql_lexer.h"
#include "fql_utf8.h"


#define FQL_C_NAME_START  0x01
#define FQL_C_NAME        0x02
#define FQL_C_DIGIT       0x04

#define fql_is_name_start(c)  (fql_cclass[c] & FQL_C_NAME_START)
#define fql_is_name(c)        (fql_cclass[c] & FQL_C_NAME)
#define fql_is_digit(c)       (fql_cclass[c] & FQL_C_DIGIT)

/* printable ASCII, or tab: never needs a closer look inside strings */
#define fql_is_plain(c)       (((c) >= 0x20 && (c) < 0x80) || (c) == '\t')

/* longest string value quoted in a message, in bytes */
#define FQL_DESCRIBE_MAX  40


static const unsigned char  fql_cclass[256] = {
    ['0' ... '9'] = FQL_C_NAME | FQL_C_DIGIT,
    ['A' ... 'Z'] = FQL_C_NAME_START | FQL_C_NAME,
    ['_']         = FQL_C_NAME_START | FQL_C_NAME,
    ['a' ... 'z'] = FQL_C_NAME_START | FQL_C_NAME
};


/* single character punctuators; FQL_TOK_EOF (0) for anything else */
static const unsigned char  fql_punctuators[256] = {
    ['!'] = FQL_TOK_BANG,
    ['$'] = FQL_TOK_DOLLAR,
    ['&'] = FQL_TOK_AMP,
    ['('] = FQL_TOK_PAREN_L,
    [')'] = FQL_TOK_PAREN_R,
    [':'] = FQL_TOK_COLON,
    ['='] = FQL_TOK_EQUALS,
    ['@'] = FQL_TOK_AT,
    ['['] = FQL_TOK_BRACKET_L,
    [']'] = FQL_TOK_BRACKET_R,
    ['{'] = FQL_TOK_BRACE_L,
    ['|'] = FQL_TOK_PIPE,
    ['}'] = FQL_TOK_BRACE_R
};


static const char  *fql_token_names[] = {
    "<EOF>", "!", "$", "&", "(", ")", "...", ":", "=", "@", "[", "]", "{",
    "|", "}", "Name", "Int", "Float", "String", "BlockString"
};


static fql_loc_t fql_lexer_loc(fql_lexer_t *lx, const unsigned char *p);
static void fql_lexer_newline(fql_lexer_t *lx, const unsigned char *p);
static size_t fql_utf8_decode(const unsigned char *p,
    const unsigned char *end, uint32_t *cp);
static size_t fql_utf8_encode(uint32_t cp, unsigned char *out);
static void fql_lexer_describe_char(fql_lexer_t *lx, const unsigned char *p,
    char *buf, size_t size);
static void fql_lexer_bad_char(fql_lexer_t *lx, const unsigned char *p,
    const char *within);
static const unsigned char *fql_lexer_comment(fql_lexer_t *lx,
    const unsigned char *p);
static const unsigned char *fql_lexer_digits(fql_lexer_t *lx,
    const unsigned char *p);
static const unsigned char *fql_lexer_number(fql_lexer_t *lx,
    const unsigned char *p, fql_token_kind_t *kind);
static int fql_hex(unsigned char c);
static int32_t fql_hex4(const unsigned char *p, const unsigned char *end);
static size_t fql_lexer_escape(fql_lexer_t *lx, const unsigned char *p,
    uint32_t *cp);
static size_t fql_lexer_unicode_escape(fql_lexer_t *lx,
    const unsigned char *p, uint32_t *cp);
static void fql_lexer_bad_escape(fql_lexer_t *lx, const unsigned char *p,
    const unsigned char *last, const char *what);
static const unsigned char *fql_lexer_string(fql_lexer_t *lx,
    const unsigned char *p);
static const unsigned char *fql_lexer_block_string(fql_lexer_t *lx,
    const unsigned char *p);
static const unsigned char *fql_block_line_end(const unsigned char *p,
    const unsigned char *end);
static const unsigned char *fql_block_next_line(const unsigned char *e,
    const unsigned char *end);
static int fql_block_dedent(fql_lexer_t *lx, const unsigned char *s,
    const unsigned char *e);


void
fql_lexer_init(fql_lexer_t *lx, fql_arena_t *a, const char *src, size_t len,
    unsigned max_tokens, fql_parse_error_t *err)
{
    memset(lx, 0, sizeof(fql_lexer_t));

    if (src == NULL) {
        /* pointer arithmetic on NULL is undefined even with len 0 */
        src = "";
        len = 0;
    }

    lx->arena = a;
    lx->start = (const unsigned char *) src;
    lx->end = lx->start + len;
    lx->pos = lx->start;
    lx->cpos = lx->start;
    lx->line = 1;
    lx->col = 1;
    lx->max_tokens = max_tokens;
    lx->err = err;
}


void
fql_lexer_error(fql_lexer_t *lx, fql_loc_t loc, const char *fmt, ...)
{
    va_list  args;
    int      n;

    n = snprintf(lx->err->message, sizeof(lx->err->message),
                 "Syntax Error: ");

    va_start(args, fmt);
    vsnprintf(lx->err->message + n, sizeof(lx->err->message) - n, fmt, args);
    va_end(args);

    lx->err->loc = loc;
}


void
fql_lexer_oom(fql_lexer_t *lx)
{
    snprintf(lx->err->message, sizeof(lx->err->message), FQL_NOMEM ".");
    lx->err->loc = lx->tok.loc;
}


const char *
fql_token_kind_name(fql_token_kind_t kind)
{
    if ((size_t) kind >= sizeof(fql_token_names) / sizeof(char *)) {
        return "?";
    }

    return fql_token_names[kind];
}


void
fql_token_describe(const fql_token_t *tok, char *buf, size_t size)
{
    const char  *name, *more;
    size_t       n;

    name = fql_token_kind_name(tok->kind);

    if (tok->kind == FQL_TOK_EOF) {
        snprintf(buf, size, "%s", name);
        return;
    }

    if (tok->kind < FQL_TOK_NAME) {
        snprintf(buf, size, "\"%s\"", name);
        return;
    }

    n = tok->value.len;
    more = "";

    if (n > FQL_DESCRIBE_MAX) {
        /* cut at a code point boundary: messages stay valid UTF-8 */
        n = FQL_DESCRIBE_MAX;
        while (n > 0 && ((unsigned char) tok->value.data[n] & 0xC0) == 0x80) {
            n--;
        }

        more = "...";
    }

    snprintf(buf, size, "%s \"%.*s%s\"", name, (int) n, tok->value.data,
             more);
}


int
fql_lexer_next(fql_lexer_t *lx)
{
    const unsigned char  *p, *end, *s;
    fql_token_kind_t      kind;

    p = lx->pos;
    end = lx->end;

    /* skip ignored tokens */

    for ( ;; ) {

        if (p == end) {
            lx->tok.kind = FQL_TOK_EOF;
            lx->tok.loc = fql_lexer_loc(lx, p);
            lx->tok.value.data = NULL;
            lx->tok.value.len = 0;
            lx->pos = p;
            return 0;
        }

        switch (*p) {

        case ' ':
        case '\t':
        case ',':
            p++;
            continue;

        case '\n':
            p++;
            fql_lexer_newline(lx, p);
            continue;

        case '\r':
            p++;
            if (p < end && *p == '\n') {
                p++;
            }

            fql_lexer_newline(lx, p);
            continue;

        case '#':
            p = fql_lexer_comment(lx, p + 1);
            if (p == NULL) {
                return -1;
            }

            continue;

        case 0xEF:
            /* U+FEFF, the byte order mark, is ignored anywhere */
            if (end - p >= 3 && p[1] == 0xBB && p[2] == 0xBF) {
                p += 3;
                continue;
            }

            break;
        }

        break;
    }

    s = p;
    lx->tok.loc = fql_lexer_loc(lx, p);

    lx->ntokens++;

    if (lx->max_tokens && lx->ntokens > lx->max_tokens) {
        fql_lexer_error(lx, lx->tok.loc, "Document has too many tokens.");
        lx->err->limit = 1;
        return -1;
    }

    kind = fql_punctuators[*p];

    if (kind != FQL_TOK_EOF) {
        p++;

    } else if (*p == '.') {
        if (end - p < 3 || p[1] != '.' || p[2] != '.') {
            fql_lexer_bad_char(lx, p, NULL);
            return -1;
        }

        kind = FQL_TOK_SPREAD;
        p += 3;

    } else if (*p == '"') {
        if (end - p >= 3 && p[1] == '"' && p[2] == '"') {
            lx->tok.kind = FQL_TOK_BLOCK_STRING;
            p = fql_lexer_block_string(lx, p + 3);

        } else {
            lx->tok.kind = FQL_TOK_STRING;
            p = fql_lexer_string(lx, p + 1);
        }

        if (p == NULL) {
            return -1;
        }

        lx->pos = p;
        return 0;

    } else if (*p == '-' || fql_is_digit(*p)) {
        p = fql_lexer_number(lx, p, &kind);
        if (p == NULL) {
            return -1;
        }

    } else if (fql_is_name_start(*p)) {
        do {
            p++;
        } while (p < end && fql_is_name(*p));

        kind = FQL_TOK_NAME;

    } else {
        fql_lexer_bad_char(lx, p, NULL);
        return -1;
    }

    lx->tok.kind = kind;
    lx->tok.value.data = (const char *) s;
    lx->tok.value.len = p - s;
    lx->pos = p;

    return 0;
}


/*
 * Columns are counted in code points from the last known position, so
 * that a long single-line document costs linear time in total.
 */
static fql_loc_t
fql_lexer_loc(fql_lexer_t *lx, const unsigned char *p)
{
    const unsigned char  *c;
    uint32_t              col;
    fql_loc_t             loc;

    col = lx->col;

    for (c = lx->cpos; c < p; c++) {
        col += ((*c & 0xC0) != 0x80);
    }

    if (p > lx->cpos) {
        lx->cpos = p;
        lx->col = col;
    }

    loc.line = lx->line;
    loc.column = col;

    return loc;
}


static void
fql_lexer_newline(fql_lexer_t *lx, const unsigned char *p)
{
    lx->line++;
    lx->cpos = p;
    lx->col = 1;
}


/*
 * Returns the length of the well-formed UTF-8 sequence at p, or 0.
 * Overlong forms, surrogates and values above U+10FFFF are ill-formed.
 */
static size_t
fql_utf8_decode(const unsigned char *p, const unsigned char *end,
    uint32_t *cp)
{
    int       n, i;
    uint32_t  v;

    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }

    /* the check is fql_utf8.h's, shared with the JSON code */
    n = fql_utf8_seq(p, end);
    if (n < 0) {
        return 0;
    }

    v = p[0] & (0x7F >> n);

    for (i = 1; i < n; i++) {
        v = (v << 6) | (p[i] & 0x3F);
    }

    *cp = v;

    return n;
}


static size_t
fql_utf8_encode(uint32_t cp, unsigned char *out)
{
    if (cp < 0x80) {
        out[0] = (unsigned char) cp;
        return 1;
    }

    if (cp < 0x800) {
        out[0] = (unsigned char) (0xC0 | (cp >> 6));
        out[1] = (unsigned char) (0x80 | (cp & 0x3F));
        return 2;
    }

    if (cp < 0x10000) {
        out[0] = (unsigned char) (0xE0 | (cp >> 12));
        out[1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char) (0x80 | (cp & 0x3F));
        return 3;
    }

    out[0] = (unsigned char) (0xF0 | (cp >> 18));
    out[1] = (unsigned char) (0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char) (0x80 | (cp & 0x3F));

    return 4;
}


/* graphql-js style: <EOF>, "x" for printable ASCII, U+XXXX otherwise */
static void
fql_lexer_describe_char(fql_lexer_t *lx, const unsigned char *p, char *buf,
    size_t size)
{
    uint32_t  cp;

    if (p >= lx->end) {
        snprintf(buf, size, "<EOF>");

    } else if (*p == '"') {
        snprintf(buf, size, "'\"'");

    } else if (*p >= 0x20 && *p < 0x7F) {
        snprintf(buf, size, "\"%c\"", *p);

    } else if (fql_utf8_decode(p, lx->end, &cp)) {
        snprintf(buf, size, "U+%04X", (unsigned) cp);

    } else {
        snprintf(buf, size, "byte 0x%02X", *p);
    }
}


/* reports a character that cannot appear at p */
static void
fql_lexer_bad_char(fql_lexer_t *lx, const unsigned char *p,
    const char *within)
{
    fql_loc_t  loc;
    char       desc[32];
    uint32_t   cp;

    loc = fql_lexer_loc(lx, p);

    if (*p >= 0x80 && fql_utf8_decode(p, lx->end, &cp) == 0) {
        fql_lexer_error(lx, loc, "Invalid UTF-8 byte 0x%02X.", *p);
        return;
    }

    fql_lexer_describe_char(lx, p, desc, sizeof(desc));

    if (*p < 0x20) {
        fql_lexer_error(lx, loc, "Invalid character%s: %s.",
                        within ? within : "", desc);
        return;
    }

    if (*p == '\'') {
        fql_lexer_error(lx, loc, "Unexpected single quote character ('), "
                        "did you mean to use a double quote (\")?");
        return;
    }

    fql_lexer_error(lx, loc, "Unexpected character: %s.", desc);
}


/* p is past '#'; returns the line terminator or end, NULL on error */
static const unsigned char *
fql_lexer_comment(fql_lexer_t *lx, const unsigned char *p)
{
    const unsigned char  *end;
    int                   n;

    end = lx->end;

    while (p < end) {

        if (fql_is_plain(*p)) {
            p++;
            continue;
        }

        if (*p == '\n' || *p == '\r') {
            break;
        }

        n = (*p >= 0x80) ? fql_utf8_seq(p, end) : 0;
        if (n <= 0) {
            fql_lexer_bad_char(lx, p, NULL);
            return NULL;
        }

        p += n;
    }

    return p;
}


static const unsigned char *
fql_lexer_digits(fql_lexer_t *lx, const unsigned char *p)
{
    char  desc[32];

    if (p == lx->end || !fql_is_digit(*p)) {
        fql_lexer_describe_char(lx, p, desc, sizeof(desc));
        fql_lexer_error(lx, fql_lexer_loc(lx, p),
                        "Invalid number, expected digit but got: %s.", desc);
        return NULL;
    }

    do {
        p++;
    } while (p < lx->end && fql_is_digit(*p));

    return p;
}


static const unsigned char *
fql_lexer_number(fql_lexer_t *lx, const unsigned char *p,
    fql_token_kind_t *kind)
{
    const unsigned char  *end;
    char                  desc[32];

    end = lx->end;
    *kind = FQL_TOK_INT;

    if (*p == '-') {
        p++;
    }

    if (p < end && *p == '0') {
        p++;

        if (p < end && fql_is_digit(*p)) {
            fql_lexer_error(lx, fql_lexer_loc(lx, p),
                            "Invalid number, unexpected digit after 0: "
                            "\"%c\".", *p);
            return NULL;
        }

    } else {
        p = fql_lexer_digits(lx, p);
        if (p == NULL) {
            return NULL;
        }
    }

    if (p < end && *p == '.') {
        *kind = FQL_TOK_FLOAT;

        p = fql_lexer_digits(lx, p + 1);
        if (p == NULL) {
            return NULL;
        }
    }

    if (p < end && (*p == 'e' || *p == 'E')) {
        *kind = FQL_TOK_FLOAT;
        p++;

        if (p < end && (*p == '+' || *p == '-')) {
            p++;
        }

        p = fql_lexer_digits(lx, p);
        if (p == NULL) {
            return NULL;
        }
    }

    /* "1.2.3", "0x1F", "1e" are errors, not two tokens */

    if (p < end && (*p == '.' || fql_is_name_start(*p))) {
        fql_lexer_describe_char(lx, p, desc, sizeof(desc));
        fql_lexer_error(lx, fql_lexer_loc(lx, p),
                        "Invalid number, expected digit but got: %s.", desc);
        return NULL;
    }

    return p;
}


static int
fql_hex(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


static int32_t
fql_hex4(const unsigned char *p, const unsigned char *end)
{
    int32_t  v;
    int      i, h;

    if (end - p < 4) {
        return -1;
    }

    v = 0;

    for (i = 0; i < 4; i++) {
        h = fql_hex(p[i]);
        if (h < 0) {
            return -1;
        }

        v = (v << 4) | h;
    }

    return v;
}


/*
 * p is at a backslash inside a string; returns the length of the escape
 * sequence and its code point, or 0 with the error set.
 */
static size_t
fql_lexer_escape(fql_lexer_t *lx, const unsigned char *p, uint32_t *cp)
{
    if (lx->end - p < 2) {
        fql_lexer_error(lx, fql_lexer_loc(lx, lx->end),
                        "Unterminated string.");
        return 0;
    }

    switch (p[1]) {

    case '"':
    case '\\':
    case '/':
        *cp = p[1];
        return 2;

    case 'b':
        *cp = '\b';
        return 2;

    case 'f':
        *cp = '\f';
        return 2;

    case 'n':
        *cp = '\n';
        return 2;

    case 'r':
        *cp = '\r';
        return 2;

    case 't':
        *cp = '\t';
        return 2;

    case 'u':
        return fql_lexer_unicode_escape(lx, p, cp);
    }

    fql_lexer_bad_escape(lx, p, p + 1, "character");

    return 0;
}


static size_t
fql_lexer_unicode_escape(fql_lexer_t *lx, const unsigned char *p,
    uint32_t *cp)
{
    const unsigned char  *q, *end;
    uint32_t              v;
    int32_t               lead, trail;
    int                   h;

    end = lx->end;
    q = p + 2;

    if (q < end && *q == '{') {

        /* \u{...}: any number of hex digits naming a scalar value */

        v = 0;

        for (q++; q < end; q++) {
            h = fql_hex(*q);
            if (h < 0) {
                break;
            }

            v = (v << 4) | h;

            if (v > 0x10FFFF) {
                goto invalid;
            }
        }

        if (q == end || *q != '}' || q == p + 3
            || (v >= 0xD800 && v <= 0xDFFF))
        {
            goto invalid;
        }

        *cp = v;
        return q + 1 - p;
    }

    lead = fql_hex4(q, end);

    if (lead < 0) {
        q = p + 5;
        goto invalid;
    }

    if (lead < 0xD800 || lead > 0xDFFF) {
        *cp = lead;
        return 6;
    }

    /* only a JSON-style surrogate pair may spell a supplementary char */

    if (lead <= 0xDBFF && end - p >= 12 && p[6] == '\\' && p[7] == 'u') {
        trail = fql_hex4(p + 8, end);

        if (trail >= 0xDC00 && trail <= 0xDFFF) {
            *cp = 0x10000 + (((uint32_t) lead - 0xD800) << 10)
                  + ((uint32_t) trail - 0xDC00);
            return 12;
        }
    }

    q = p + 5;

invalid:

    fql_lexer_bad_escape(lx, p, q, "Unicode");

    return 0;
}


/* quotes the escape from p up to last, as far as it is printable */
static void
fql_lexer_bad_escape(fql_lexer_t *lx, const unsigned char *p,
    const unsigned char *last, const char *what)
{
    const unsigned char  *q;

    for (q = p + 1; q <= last && q < lx->end; q++) {
        if (*q < 0x20 || *q >= 0x7F || *q == '"' || q - p >= 16) {
            break;
        }
    }

    fql_lexer_error(lx, fql_lexer_loc(lx, p),
                    "Invalid %s escape sequence: \"%.*s\".", what,
                    (int) (q - p), (const char *) p);
}


/* p is past the opening quote; returns the position after the closing one */
static const unsigned char *
fql_lexer_string(fql_lexer_t *lx, const unsigned char *p)
{
    const unsigned char  *q, *end;
    unsigned char        *buf, *w;
    int                   escapes;
    int                   n;
    uint32_t              cp;

    end = lx->end;
    escapes = 0;

    /* validate and find the closing quote */

    for (q = p; ; ) {

        if (q == end || *q == '\n' || *q == '\r') {
            fql_lexer_error(lx, fql_lexer_loc(lx, q), "Unterminated string.");
            return NULL;
        }

        if (*q == '"') {
            break;
        }

        if (*q == '\\') {
            n = fql_lexer_escape(lx, q, &cp);
            if (n == 0) {
                return NULL;
            }

            escapes = 1;
            q += n;
            continue;
        }

        if (fql_is_plain(*q)) {
            q++;
            continue;
        }

        n = (*q >= 0x80) ? fql_utf8_seq(q, end) : 0;
        if (n <= 0) {
            fql_lexer_bad_char(lx, q, " within String");
            return NULL;
        }

        q += n;
    }

    /* decoding never grows the text */

    buf = fql_alloc(lx->arena, q - p + 1);
    if (buf == NULL) {
        fql_lexer_oom(lx);
        return NULL;
    }

    if (!escapes) {
        memcpy(buf, p, q - p);
        w = buf + (q - p);

    } else {
        w = buf;

        while (p < q) {
            if (*p != '\\') {
                *w++ = *p++;
                continue;
            }

            p += fql_lexer_escape(lx, p, &cp);
            w += fql_utf8_encode(cp, w);
        }
    }

    *w = '\0';

    lx->tok.value.data = (const char *) buf;
    lx->tok.value.len = w - buf;

    return q + 1;
}


/* p is past the opening """; returns the position after the closing one */
static const unsigned char *
fql_lexer_block_string(fql_lexer_t *lx, const unsigned char *p)
{
    const unsigned char  *q, *end;
    int                   n;

    end = lx->end;

    for (q = p; ; ) {

        if (q == end) {
            fql_lexer_error(lx, fql_lexer_loc(lx, q), "Unterminated string.");
            return NULL;
        }

        if (fql_is_plain(*q)) {

            if (*q == '"' && end - q >= 3 && q[1] == '"' && q[2] == '"') {
                break;
            }

            if (*q == '\\' && end - q >= 4
                && q[1] == '"' && q[2] == '"' && q[3] == '"')
            {
                q += 4;
                continue;
            }

            q++;
            continue;
        }

        if (*q == '\n') {
            q++;
            fql_lexer_newline(lx, q);
            continue;
        }

        if (*q == '\r') {
            q++;
            if (q < end && *q == '\n') {
                q++;
            }

            fql_lexer_newline(lx, q);
            continue;
        }

        n = (*q >= 0x80) ? fql_utf8_seq(q, end) : 0;
        if (n <= 0) {
            fql_lexer_bad_char(lx, q, " within String");
            return NULL;
        }

        q += n;
    }

    if (fql_block_dedent(lx, p, q) != 0) {
        return NULL;
    }

    return q + 3;
}


static const unsigned char *
fql_block_line_end(const unsigned char *p, const unsigned char *end)
{
    while (p < end && *p != '\n' && *p != '\r') {
        p++;
    }

    return p;
}


/* e is at a line terminator */
static const unsigned char *
fql_block_next_line(const unsigned char *e, const unsigned char *end)
{
    if (*e == '\r' && e + 1 < end && e[1] == '\n') {
        return e + 2;
    }

    return e + 1;
}


/*
 * BlockStringValue(): the raw text s..e with \""" unescaped, the common
 * indentation of all lines but the first removed, leading and trailing
 * blank lines dropped and line terminators normalized to \n.
 */
static int
fql_block_dedent(fql_lexer_t *lx, const unsigned char *s,
    const unsigned char *e)
{
    const unsigned char  *p, *le, *r;
    unsigned char        *buf, *w;
    size_t                i, first, last, common, ws, skip;
    int                   any;

    /* pass 1: common indentation and the first and last non-blank lines */

    any = 0;
    first = 0;
    last = 0;
    common = (size_t) -1;

    for (p = s, i = 0; ; i++) {
        le = fql_block_line_end(p, e);

        for (ws = 0; p + ws < le && (p[ws] == ' ' || p[ws] == '\t'); ws++) {
            /* void */
        }

        if (p + ws < le) {
            if (!any) {
                any = 1;
                first = i;
            }

            last = i;

            if (i > 0 && ws < common) {
                common = ws;
            }
        }

        if (le == e) {
            break;
        }

        p = fql_block_next_line(le, e);
    }

    if (common == (size_t) -1) {
        common = 0;
    }

    buf = fql_alloc(lx->arena, e - s + 1);
    if (buf == NULL) {
        fql_lexer_oom(lx);
        return -1;
    }

    w = buf;

    /* pass 2: copy lines first..last */

    for (p = s, i = 0; any && i <= last; i++) {
        le = fql_block_line_end(p, e);

        if (i >= first) {
            if (i > first) {
                *w++ = '\n';
            }

            skip = 0;

            if (i > 0) {
                skip = (size_t) (le - p) < common ? (size_t) (le - p)
                                                  : common;
            }

            for (r = p + skip; r < le; ) {
                if (*r == '\\' && le - r >= 4
                    && r[1] == '"' && r[2] == '"' && r[3] == '"')
                {
                    r++;
                }

                *w++ = *r++;
            }
        }

        if (le == e) {
            break;
        }

        p = fql_block_next_line(le, e);
    }

    *w = '\0';

    lx->tok.value.data = (const char *) buf;
    lx->tok.value.len = w - buf;

    return 0;
}
