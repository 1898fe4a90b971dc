#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <arpa/inet.h>

#include "fql_scalar.h"
#include "fql_jscan.h"


static int
fql_is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
           || (c >= 'A' && c <= 'F');
}


/* inet's input: an IPv4 or IPv6 address, optionally /prefix */
static int
fql_check_inet(const fql_str_t *s)
{
    char         buf[64];
    size_t       n, i;
    unsigned     bits, max;
    const char  *slash;
    u_char       addr[16];

    slash = memchr(s->data, '/', s->len);
    n = slash ? (size_t) (slash - s->data) : s->len;

    if (n == 0 || n >= sizeof(buf)) {
        return -1;
    }

    memcpy(buf, s->data, n);
    buf[n] = '\0';

    if (inet_pton(AF_INET, buf, addr) == 1) {
        max = 32;

    } else if (inet_pton(AF_INET6, buf, addr) == 1) {
        max = 128;

    } else {
        return -1;
    }

    if (slash == NULL) {
        return 0;
    }

    bits = 0;

    for (i = n + 1; i < s->len; i++) {
        if (s->data[i] < '0' || s->data[i] > '9' || bits > max) {
            return -1;
        }
        bits = bits * 10 + (s->data[i] - '0');
    }

    return (i > n + 1 && bits <= max) ? 0 : -1;
}


/* a number as PostgreSQL's numeric reads it */
static int
fql_check_decimal(const fql_str_t *s)
{
    size_t  i, digits;

    i = (s->len && (s->data[0] == '-' || s->data[0] == '+'));
    digits = 0;

    for ( /* void */ ; i < s->len && fql_is_digit(s->data[i]); i++) {
        digits++;
    }

    if (i < s->len && s->data[i] == '.') {
        for (i++; i < s->len && fql_is_digit(s->data[i]); i++) {
            digits++;
        }
    }

    if (digits == 0) {
        return -1;
    }

    if (i < s->len && (s->data[i] == 'e' || s->data[i] == 'E')) {
        i++;
        i += (i < s->len && (s->data[i] == '-' || s->data[i] == '+'));

        if (i == s->len || !fql_is_digit(s->data[i])) {
            return -1;
        }

        while (i < s->len && fql_is_digit(s->data[i])) {
            i++;
        }
    }

    return i == s->len ? 0 : -1;
}


/* 12 hex digits, separated by : - or . as PostgreSQL allows */
static int
fql_check_macaddr(const fql_str_t *s)
{
    size_t  i, hex;

    hex = 0;

    for (i = 0; i < s->len; i++) {
        if (fql_is_hex(s->data[i])) {
            hex++;

        } else if (s->data[i] != ':' && s->data[i] != '-'
                   && s->data[i] != '.')
        {
            return -1;
        }
    }

    return hex == 12 && s->len <= 17 ? 0 : -1;
}


/* labels of letters, digits, _ and - joined by dots */
static int
fql_check_ltree(const fql_str_t *s)
{
    size_t  i;
    u_char  ch;

    for (i = 0; i < s->len; i++) {
        ch = s->data[i];

        if (ch == '.') {
            if (i == 0 || i + 1 == s->len || s->data[i - 1] == '.') {
                return -1;
            }

        } else if (!(fql_is_digit(ch) || ch == '_' || ch == '-'
                     || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z')))
        {
            return -1;
        }
    }

    return 0;
}


static int
fql_check_daterange(const fql_str_t *s)
{
    if (s->len == 5 && strncasecmp(s->data, "empty", 5) == 0) {
        return 0;
    }

    return (s->len >= 3 && (s->data[0] == '[' || s->data[0] == '(')
            && (s->data[s->len - 1] == ']' || s->data[s->len - 1] == ')')
            && memchr(s->data, ',', s->len) != NULL) ? 0 : -1;
}


static int
fql_check_uuid(const fql_str_t *s)
{
    size_t  i;

    if (s->len != 36) {
        return -1;
    }

    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s->data[i] != '-') {
                return -1;
            }

        } else if (!fql_is_hex(s->data[i])) {
            return -1;
        }
    }

    return 0;
}


/* YYYY-MM-DD at the start of s */
static int
fql_check_ymd(const fql_str_t *s)
{
    size_t  i;

    if (s->len < 10) {
        return -1;
    }

    for (i = 0; i < 10; i++) {
        if (i == 4 || i == 7) {
            if (s->data[i] != '-') {
                return -1;
            }

        } else if (s->data[i] < '0' || s->data[i] > '9') {
            return -1;
        }
    }

    return 0;
}


static int
fql_check_date(const fql_str_t *s)
{
    return fql_check_ymd(s) == 0 && s->len == 10 ? 0 : -1;
}


static int
fql_check_datetime(const fql_str_t *s)
{
    if (fql_check_ymd(s) != 0) {
        return -1;
    }

    return (s->len == 10 || s->data[10] == 'T' || s->data[10] == 't'
            || s->data[10] == ' ') ? 0 : -1;
}


const fql_scalar_info_t  fql_scalars[FQL_SCALAR_N] = {

    [FQL_SCALAR_STRING] = { "String",
      "The `String` scalar type represents textual data, represented as "
      "UTF-8 character sequences.",
      NULL, NULL, NULL, FQL_SC_STRING, FQL_SC_STRING },

    [FQL_SCALAR_INT] = { "Int",
      "The `Int` scalar type represents non-fractional signed whole numeric "
      "values between -(2^31) and 2^31 - 1.",
      "numeric", NULL, NULL, FQL_SC_INT, FQL_SC_INT },

    [FQL_SCALAR_FLOAT] = { "Float",
      "The `Float` scalar type represents signed double-precision "
      "fractional values as specified by IEEE 754.",
      "numeric", NULL, NULL, FQL_SC_FLOAT, FQL_SC_FLOAT },

    [FQL_SCALAR_BOOLEAN] = { "Boolean",
      "The `Boolean` scalar type represents `true` or `false`.",
      "boolean", NULL, NULL, FQL_SC_BOOLEAN, FQL_SC_BOOLEAN },

    [FQL_SCALAR_ID] = { "ID",
      "The `ID` scalar type represents a unique identifier, serialized as "
      "a string; a number is accepted as input.",
      NULL, NULL, NULL, FQL_SC_ID, FQL_SC_ID },

    [FQL_SCALAR_DATETIME] = { "DateTime",
      "An ISO 8601 date and time with time zone.",
      "timestamptz", "an ISO 8601 date-time", fql_check_datetime,
      FQL_SC_STRING, FQL_SC_STRING },

    [FQL_SCALAR_DATE] = { "Date",
      "An ISO 8601 calendar date.",
      "date", "a date (YYYY-MM-DD)", fql_check_date,
      FQL_SC_STRING, FQL_SC_STRING },

    [FQL_SCALAR_UUID] = { "UUID",
      "A UUID in its canonical text form.",
      "uuid", "a UUID", fql_check_uuid, FQL_SC_STRING, FQL_SC_STRING },

    /* JSON and Vector keep their structure: the caller coerces them */
    [FQL_SCALAR_JSON] = { "JSON",
      "Any JSON value.",
      "jsonb", NULL, NULL, FQL_SC_RAW, FQL_SC_RAW },

    [FQL_SCALAR_DECIMAL] = { "Decimal",
      "An exact decimal number (PostgreSQL numeric), as a number or a "
      "string.",
      "numeric", "a decimal number", fql_check_decimal,
      FQL_SC_DECIMAL, FQL_SC_RAW },

    [FQL_SCALAR_IPADDRESS] = { "IpAddress",
      "An IPv4 or IPv6 address or network (PostgreSQL inet).",
      "inet", "an IPv4 or IPv6 address, optionally with /prefix",
      fql_check_inet, FQL_SC_STRING, FQL_SC_STRING },

    [FQL_SCALAR_MACADDRESS] = { "MacAddress",
      "A MAC address (PostgreSQL macaddr).",
      "macaddr", "a MAC address such as 08:00:2b:01:02:03",
      fql_check_macaddr, FQL_SC_STRING, FQL_SC_STRING },

    [FQL_SCALAR_LTREE] = { "LTree",
      "A label path such as \"top.science.physics\" (PostgreSQL ltree).",
      "ltree",
      "a label path such as top.science (letters, digits, _ and -)",
      fql_check_ltree, FQL_SC_STRING, FQL_SC_STRING },

    [FQL_SCALAR_DATERANGE] = { "DateRange",
      "A range of dates such as \"[2024-01-01,2024-02-01)\" (PostgreSQL "
      "daterange).",
      "daterange", "a date range such as [2024-01-01,2024-02-01)",
      fql_check_daterange, FQL_SC_STRING, FQL_SC_STRING },

    [FQL_SCALAR_TSVECTOR] = { "TSVector",
      "A document for full text search (PostgreSQL tsvector).",
      "tsvector", NULL, NULL, FQL_SC_STRING, FQL_SC_STRING },

    [FQL_SCALAR_VECTOR] = { "Vector",
      "A list of numbers (pgvector's vector).",
      "vector", NULL, NULL, FQL_SC_RAW, FQL_SC_RAW },

    [FQL_SCALAR_POINT] = { "Point",
      "A point \"(x,y)\": x is the longitude, y the latitude.",
      "point", NULL, NULL, FQL_SC_STRING, FQL_SC_RAW },

    [FQL_SCALAR_ENUM] = { "Enum", NULL,
      NULL, NULL, NULL, FQL_SC_STRING, FQL_SC_STRING }
};
