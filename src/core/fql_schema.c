#include <stdarg.h>
#include <stdio.h>

#include "fql_schema_int.h"
#include "fql_compile.h"


#define FQL_B(s)         (1u << FQL_SCALAR_ ## s)
/* eq, neq, in: every scalar PostgreSQL can compare with = (not point) */
#define FQL_ALL_SCALARS  (~FQL_OP_ARRAYS & ~FQL_B(POINT))
#define FQL_ANY          0xffffffffu
#define FQL_TEXT         FQL_B(STRING)
#define FQL_ORDERED                                                           \
    (FQL_B(STRING) | FQL_B(INT) | FQL_B(FLOAT) | FQL_B(DECIMAL)               \
     | FQL_B(DATETIME) | FQL_B(DATE))
#define FQL_INET         FQL_B(IPADDRESS)
#define FQL_RANGE        FQL_B(DATERANGE)
#define FQL_LTREE        FQL_B(LTREE)
#define FQL_TSV          FQL_B(TSVECTOR)
#define FQL_JSONB        FQL_B(JSON)
#define FQL_VEC          FQL_B(VECTOR)

/* what "private" means for isprivate/ispublic: RFC 1918, loopback, */
/* link-local and their IPv6 counterparts */
#define FQL_PRIVATE_NETS                                                      \
    "'{10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,127.0.0.0/8,169.254.0.0/16,"   \
    "fc00::/7,fe80::/10,::1/128}'::inet[]"

/* a list field's JSON, null unless it is an array (length, elements) */
#define FQL_ARR  "(CASE jsonb_typeof(%e) WHEN 'array' THEN %e END)"

#define FQL_OP(n, sc, val, xf, sql)  { n, sc, val, xf, sql, 0, NULL }

/*
 * The where operators.  Adding one is adding a row here: its name, the
 * scalars it applies to, the type of its value and its SQL template.
 */
const fql_operator_t  fql_operators[] = {
    FQL_OP("eq", FQL_ALL_SCALARS, FQL_OPV_SAME, FQL_OPX_TEXT, "%e = %v"),
    FQL_OP("neq", FQL_ALL_SCALARS, FQL_OPV_SAME, FQL_OPX_TEXT, "%e <> %v"),
    FQL_OP("in", FQL_ALL_SCALARS, FQL_OPV_LIST, FQL_OPX_ARRAY,
           "(%e = ANY(%a))"),
    FQL_OP("nin", FQL_ALL_SCALARS, FQL_OPV_LIST, FQL_OPX_ARRAY,
           "NOT (%e = ANY(%a))"),
    FQL_OP("notin", FQL_ALL_SCALARS, FQL_OPV_LIST, FQL_OPX_ARRAY,
           "NOT (%e = ANY(%a))"),
    FQL_OP("gt", FQL_ORDERED, FQL_OPV_SAME, FQL_OPX_TEXT, "%e > %v"),
    FQL_OP("gte", FQL_ORDERED, FQL_OPV_SAME, FQL_OPX_TEXT, "%e >= %v"),
    FQL_OP("lt", FQL_ORDERED, FQL_OPV_SAME, FQL_OPX_TEXT, "%e < %v"),
    FQL_OP("lte", FQL_ORDERED, FQL_OPV_SAME, FQL_OPX_TEXT, "%e <= %v"),
    FQL_OP("isnull", FQL_ANY, FQL_OPV_BOOLEAN, FQL_OPX_TEXT,
           "((%e IS NULL) = %1::boolean)"),

    /* strings: the value is text, its %, _ and \ match themselves */
    { "contains", FQL_TEXT, FQL_OPV_SAME, FQL_OPX_PATTERN, "%e LIKE %1",
      FQL_OP_PREFIX | FQL_OP_SUFFIX, NULL },
    { "icontains", FQL_TEXT, FQL_OPV_SAME, FQL_OPX_PATTERN, "%e ILIKE %1",
      FQL_OP_PREFIX | FQL_OP_SUFFIX, NULL },
    { "startswith", FQL_TEXT, FQL_OPV_SAME, FQL_OPX_PATTERN, "%e LIKE %1",
      FQL_OP_SUFFIX, NULL },
    { "istartswith", FQL_TEXT, FQL_OPV_SAME, FQL_OPX_PATTERN,
      "%e ILIKE %1", FQL_OP_SUFFIX, NULL },
    { "endswith", FQL_TEXT, FQL_OPV_SAME, FQL_OPX_PATTERN, "%e LIKE %1",
      FQL_OP_PREFIX, NULL },
    { "iendswith", FQL_TEXT, FQL_OPV_SAME, FQL_OPX_PATTERN, "%e ILIKE %1",
      FQL_OP_PREFIX, NULL },

    /* strings: the value is the user's pattern or POSIX regex */
    FQL_OP("like", FQL_TEXT, FQL_OPV_SAME, FQL_OPX_TEXT, "%e LIKE %v"),
    FQL_OP("ilike", FQL_TEXT, FQL_OPV_SAME, FQL_OPX_TEXT, "%e ILIKE %v"),
    FQL_OP("matches", FQL_TEXT, FQL_OPV_SAME, FQL_OPX_TEXT, "%e ~ %v"),
    FQL_OP("imatches", FQL_TEXT, FQL_OPV_SAME, FQL_OPX_TEXT, "%e ~* %v"),
    FQL_OP("not_matches", FQL_TEXT, FQL_OPV_SAME, FQL_OPX_TEXT,
           "%e !~ %v"),

    /* inet */
    FQL_OP("insubnet", FQL_INET, FQL_OPV_SAME, FQL_OPX_TEXT, "%e <<= %v"),
    FQL_OP("inrange", FQL_INET, FQL_OPV_SAME, FQL_OPX_TEXT, "%e <<= %v"),
    FQL_OP("overlaps", FQL_INET, FQL_OPV_SAME, FQL_OPX_TEXT, "%e && %v"),
    FQL_OP("strictleft", FQL_INET, FQL_OPV_SAME, FQL_OPX_TEXT, "%e << %v"),
    FQL_OP("strictright", FQL_INET, FQL_OPV_SAME, FQL_OPX_TEXT,
           "%e >> %v"),
    FQL_OP("isprivate", FQL_INET, FQL_OPV_BOOLEAN, FQL_OPX_TEXT,
           "((%e <<= ANY (" FQL_PRIVATE_NETS ")) = %1::boolean)"),
    FQL_OP("ispublic", FQL_INET, FQL_OPV_BOOLEAN, FQL_OPX_TEXT,
           "((%e <<= ANY (" FQL_PRIVATE_NETS ")) <> %1::boolean)"),
    FQL_OP("isipv4", FQL_INET, FQL_OPV_BOOLEAN, FQL_OPX_TEXT,
           "((family(%e) = 4) = %1::boolean)"),
    FQL_OP("isipv6", FQL_INET, FQL_OPV_BOOLEAN, FQL_OPX_TEXT,
           "((family(%e) = 6) = %1::boolean)"),

    /* daterange */
    FQL_OP("contains_date", FQL_RANGE, FQL_OPV_DATE, FQL_OPX_TEXT,
           "%e @> %1::date"),
    FQL_OP("overlaps", FQL_RANGE, FQL_OPV_SAME, FQL_OPX_TEXT, "%e && %v"),
    FQL_OP("adjacent", FQL_RANGE, FQL_OPV_SAME, FQL_OPX_TEXT, "%e -|- %v"),
    FQL_OP("strictly_left", FQL_RANGE, FQL_OPV_SAME, FQL_OPX_TEXT,
           "%e << %v"),
    FQL_OP("strictly_right", FQL_RANGE, FQL_OPV_SAME, FQL_OPX_TEXT,
           "%e >> %v"),
    FQL_OP("not_left", FQL_RANGE, FQL_OPV_SAME, FQL_OPX_TEXT, "%e &> %v"),
    FQL_OP("not_right", FQL_RANGE, FQL_OPV_SAME, FQL_OPX_TEXT, "%e &< %v"),

    /* ltree */
    FQL_OP("ancestor_of", FQL_LTREE, FQL_OPV_SAME, FQL_OPX_TEXT,
           "%e @> %v"),
    FQL_OP("descendant_of", FQL_LTREE, FQL_OPV_SAME, FQL_OPX_TEXT,
           "%e <@ %v"),
    FQL_OP("matches_lquery", FQL_LTREE, FQL_OPV_STRING, FQL_OPX_TEXT,
           "%e ~ %1::lquery"),
    FQL_OP("matches_ltxtquery", FQL_LTREE, FQL_OPV_STRING, FQL_OPX_TEXT,
           "%e @ %1::ltxtquery"),
    FQL_OP("matches_any_lquery", FQL_LTREE, FQL_OPV_STRING_LIST,
           FQL_OPX_ARRAY, "%e ? %1::lquery[]"),
    FQL_OP("depth_eq", FQL_LTREE, FQL_OPV_INT, FQL_OPX_TEXT,
           "nlevel(%e) = %1::integer"),
    FQL_OP("depth_neq", FQL_LTREE, FQL_OPV_INT, FQL_OPX_TEXT,
           "nlevel(%e) <> %1::integer"),
    FQL_OP("depth_gt", FQL_LTREE, FQL_OPV_INT, FQL_OPX_TEXT,
           "nlevel(%e) > %1::integer"),
    FQL_OP("depth_gte", FQL_LTREE, FQL_OPV_INT, FQL_OPX_TEXT,
           "nlevel(%e) >= %1::integer"),
    FQL_OP("depth_lt", FQL_LTREE, FQL_OPV_INT, FQL_OPX_TEXT,
           "nlevel(%e) < %1::integer"),
    FQL_OP("depth_lte", FQL_LTREE, FQL_OPV_INT, FQL_OPX_TEXT,
           "nlevel(%e) <= %1::integer"),

    /* full text: the query in the server's default text search config */
    FQL_OP("matches", FQL_TSV, FQL_OPV_STRING, FQL_OPX_TEXT,
           "%e @@ to_tsquery(%1)"),
    FQL_OP("plain_query", FQL_TSV, FQL_OPV_STRING, FQL_OPX_TEXT,
           "%e @@ plainto_tsquery(%1)"),
    FQL_OP("phrase_query", FQL_TSV, FQL_OPV_STRING, FQL_OPX_TEXT,
           "%e @@ phraseto_tsquery(%1)"),
    FQL_OP("websearch_query", FQL_TSV, FQL_OPV_STRING, FQL_OPX_TEXT,
           "%e @@ websearch_to_tsquery(%1)"),
    { "rank_gt", FQL_TSV, FQL_OPV_INPUT, FQL_OPX_MEMBERS,
      "ts_rank(%e, to_tsquery(%1)) > %2::real", 0, "TextRankInput" },
    { "rank_lt", FQL_TSV, FQL_OPV_INPUT, FQL_OPX_MEMBERS,
      "ts_rank(%e, to_tsquery(%1)) < %2::real", 0, "TextRankInput" },

    /* jsonb */
    FQL_OP("contains", FQL_JSONB, FQL_OPV_SAME, FQL_OPX_TEXT, "%e @> %v"),
    FQL_OP("overlaps", FQL_JSONB, FQL_OPV_STRING_LIST, FQL_OPX_ARRAY,
           "%e ?| %1::text[]"),
    FQL_OP("strictly_contains", FQL_JSONB, FQL_OPV_SAME, FQL_OPX_TEXT,
           "(%e @> %v AND %e <> %v)"),
    FQL_OP("has_key", FQL_JSONB, FQL_OPV_STRING, FQL_OPX_TEXT, "%e ? %1"),

    /* pgvector: distance under a threshold */
    { "cosine_distance", FQL_VEC, FQL_OPV_INPUT, FQL_OPX_MEMBERS,
      "(%e <=> %1::vector) < %2::float8", 0, "VectorDistanceInput" },
    { "l2_distance", FQL_VEC, FQL_OPV_INPUT, FQL_OPX_MEMBERS,
      "(%e <-> %1::vector) < %2::float8", 0, "VectorDistanceInput" },
    { "l1_distance", FQL_VEC, FQL_OPV_INPUT, FQL_OPX_MEMBERS,
      "(%e <+> %1::vector) < %2::float8", 0, "VectorDistanceInput" },

    /* point (x longitude, y latitude): great-circle distance in metres */
    { "distance_within", FQL_B(POINT), FQL_OPV_INPUT, FQL_OPX_MEMBERS,
      "(2 * 6371008.8 * asin(sqrt(power(sin(radians((%e)[1] - %1::float8)"
      " / 2), 2) + cos(radians(%1::float8)) * cos(radians((%e)[1]))"
      " * power(sin(radians((%e)[0] - %2::float8) / 2), 2))) <= %3::float8)",
      0, "PointDistanceInput" },

    /* lists (JSON arrays) */
    FQL_OP("eq", FQL_OP_ARRAYS, FQL_OPV_LIST, FQL_OPX_JSON,
           "%e = %1::jsonb"),
    FQL_OP("neq", FQL_OP_ARRAYS, FQL_OPV_LIST, FQL_OPX_JSON,
           "%e <> %1::jsonb"),
    FQL_OP("contains", FQL_OP_ARRAYS, FQL_OPV_LIST, FQL_OPX_JSON,
           "%e @> %1::jsonb"),
    FQL_OP("contained_by", FQL_OP_ARRAYS, FQL_OPV_LIST, FQL_OPX_JSON,
           "%e <@ %1::jsonb"),
    FQL_OP("overlaps", FQL_OP_ARRAYS, FQL_OPV_LIST, FQL_OPX_JSON,
           "EXISTS (SELECT FROM jsonb_array_elements(" FQL_ARR ") AS x(v)"
           " WHERE %1::jsonb @> jsonb_build_array(x.v))"),
    FQL_OP("len_eq", FQL_OP_ARRAYS, FQL_OPV_INT, FQL_OPX_TEXT,
           "jsonb_array_length(" FQL_ARR ") = %1::integer"),
    FQL_OP("len_neq", FQL_OP_ARRAYS, FQL_OPV_INT, FQL_OPX_TEXT,
           "jsonb_array_length(" FQL_ARR ") <> %1::integer"),
    FQL_OP("len_gt", FQL_OP_ARRAYS, FQL_OPV_INT, FQL_OPX_TEXT,
           "jsonb_array_length(" FQL_ARR ") > %1::integer"),
    FQL_OP("len_gte", FQL_OP_ARRAYS, FQL_OPV_INT, FQL_OPX_TEXT,
           "jsonb_array_length(" FQL_ARR ") >= %1::integer"),
    FQL_OP("len_lt", FQL_OP_ARRAYS, FQL_OPV_INT, FQL_OPX_TEXT,
           "jsonb_array_length(" FQL_ARR ") < %1::integer"),
    FQL_OP("len_lte", FQL_OP_ARRAYS, FQL_OPV_INT, FQL_OPX_TEXT,
           "jsonb_array_length(" FQL_ARR ") <= %1::integer"),
    FQL_OP("any_eq", FQL_OP_ARRAYS, FQL_OPV_SAME, FQL_OPX_JSON,
           "%e @> jsonb_build_array(%1::jsonb)"),
    FQL_OP("all_eq", FQL_OP_ARRAYS, FQL_OPV_SAME, FQL_OPX_JSON,
           "(jsonb_array_length(" FQL_ARR ") > 0 AND NOT EXISTS (SELECT FROM"
           " jsonb_array_elements(" FQL_ARR ") AS x(v)"
           " WHERE x.v <> %1::jsonb))"),

    { NULL, 0, 0, 0, NULL, 0, NULL }
};


/* the input objects some operators take, as SDL */
static const struct {
    const char  *name;
    const char  *sdl;
} fql_op_inputs[] = {
    { "TextRankInput",
      "\"Rank of the document for a text search query, above or below a "
      "threshold.\" input TextRankInput { query: String! threshold: Float! }"
    },
    { "VectorDistanceInput",
      "\"Distance to a vector, under a threshold.\" input "
      "VectorDistanceInput { vector: [Float!]! threshold: Float! }" },
    { "PointDistanceInput",
      "\"A circle on the Earth: centre and radius in metres.\" input "
      "PointDistanceInput { lat: Float! lng: Float! meters: Float! }" },
    { NULL, NULL }
};


const fql_operator_t *
fql_operator_named(fql_str_t name)
{
    const fql_operator_t  *op;

    for (op = fql_operators; op->name; op++) {
        if (fql_str_eqz(name, op->name)) {
            return op;
        }
    }

    return NULL;
}




/*
 * What every schema has besides the user's types: the introspection
 * types of the spec (section 4.5) and its directives.  Loaded like user
 * SDL, marked built-in.
 */
static const char  fql_builtin_sdl[] =
    "directive @skip(if: Boolean!)"
    " on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT\n"
    "directive @include(if: Boolean!)"
    " on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT\n"
    "directive @deprecated(reason: String = \"No longer supported\")"
    " on FIELD_DEFINITION | ARGUMENT_DEFINITION | INPUT_FIELD_DEFINITION"
    " | ENUM_VALUE\n"
    "directive @specifiedBy(url: String!) on SCALAR\n"
    "\"Binds an object type to a view with an id and a JSONB data column.\"\n"
    "directive @view(name: String!, schema: String) on OBJECT\n"
    "\"The view also has a real column for the field, to filter and order"
    " by.\"\n"
    "directive @column(name: String) on FIELD_DEFINITION\n"
    "\"The PostgreSQL function a mutation calls.\"\n"
    "directive @function(name: String!, schema: String) on FIELD_DEFINITION\n"
    "\"The field's key in the JSON, when not its name in snake_case.\"\n"
    "directive @json(key: String!)"
    " on FIELD_DEFINITION | INPUT_FIELD_DEFINITION\n"
    "\"An argument of a SQL function bound from the verified token's claim"
    " (a JSON pointer): clients neither see nor set it.\"\n"
    "directive @fromClaim(pointer: String!) on ARGUMENT_DEFINITION\n"
    "\"A role, and the roles whose grants it has too.\"\n"
    "directive @role(name: String!, inherits: [String!])"
    " repeatable on SCHEMA\n"
    "\"Only a caller with a verified token may use this.\"\n"
    "directive @authenticated on OBJECT | FIELD_DEFINITION\n"
    "\"Roles (any of), permissions (all of) and scopes (any of the"
    " lists, all of a list) a caller needs.\"\n"
    "directive @auth(roles: [String!], permissions: [String!],"
    " scopes: [[String!]!]) on OBJECT | FIELD_DEFINITION\n"
    "\"Rows the roles may read: a where filter ANDed into every read.\"\n"
    "directive @rowFilter(roles: [String!]!, where: String!)"
    " repeatable on OBJECT\n"
    "\"What a field, an argument or each value of a type adds to an"
    " operation's cost (fraiseql_max_cost, fraiseql_limit_zone p).\"\n"
    "directive @cost(weight: Int!) on ARGUMENT_DEFINITION | ENUM"
    " | FIELD_DEFINITION | OBJECT | SCALAR\n"
    "\"How many items a list holds: assumed, or the value of one of the"
    " arguments.\"\n"
    "directive @listSize(assumedSize: Int, slicingArguments: [String!])"
    " on FIELD_DEFINITION\n"
    "type __Schema { description: String types: [__Type!]!"
    " queryType: __Type! mutationType: __Type subscriptionType: __Type"
    " directives: [__Directive!]! }\n"
    "type __Type { kind: __TypeKind! name: String description: String"
    " specifiedByURL: String"
    " fields(includeDeprecated: Boolean = false): [__Field!]"
    " interfaces: [__Type!] possibleTypes: [__Type!]"
    " enumValues(includeDeprecated: Boolean = false): [__EnumValue!]"
    " inputFields(includeDeprecated: Boolean = false): [__InputValue!]"
    " ofType: __Type }\n"
    "enum __TypeKind { SCALAR OBJECT INTERFACE UNION ENUM INPUT_OBJECT"
    " LIST NON_NULL }\n"
    "type __Field { name: String! description: String"
    " args(includeDeprecated: Boolean = false): [__InputValue!]!"
    " type: __Type! isDeprecated: Boolean! deprecationReason: String }\n"
    "type __InputValue { name: String! description: String type: __Type!"
    " defaultValue: String isDeprecated: Boolean!"
    " deprecationReason: String }\n"
    "type __EnumValue { name: String! description: String"
    " isDeprecated: Boolean! deprecationReason: String }\n"
    "type __Directive { name: String! description: String"
    " locations: [__DirectiveLocation!]!"
    " args(includeDeprecated: Boolean = false): [__InputValue!]!"
    " isRepeatable: Boolean! }\n"
    "enum __DirectiveLocation { QUERY MUTATION SUBSCRIPTION FIELD"
    " FRAGMENT_DEFINITION FRAGMENT_SPREAD INLINE_FRAGMENT"
    " VARIABLE_DEFINITION SCHEMA SCALAR OBJECT FIELD_DEFINITION"
    " ARGUMENT_DEFINITION INTERFACE UNION ENUM ENUM_VALUE INPUT_OBJECT"
    " INPUT_FIELD_DEFINITION }\n";


static int fql_sb_where_order_declare(fql_sb_t *sb, fql_type_t *t,
    fql_loc_t loc);


int
fql_sb_error(fql_sb_t *sb, fql_loc_t loc, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    vsnprintf(sb->err->message, sizeof(sb->err->message), fmt, args);
    va_end(args);

    sb->err->loc = loc;

    return -1;
}


static fql_str_t
fql_str_z(const char *z)
{
    fql_str_t  s;

    s.data = z;
    s.len = strlen(z);

    return s;
}


fql_type_t *
fql_schema_type(const fql_schema_t *s, fql_str_t name)
{
    fql_type_t  *t;

    for (t = s->types; t; t = t->next) {
        if (fql_str_eq(t->name, name)) {
            return t;
        }
    }

    return NULL;
}


fql_field_t *
fql_type_field(const fql_type_t *t, fql_str_t name)
{
    fql_field_t  *f;

    for (f = t->fields; f; f = f->next) {
        if (fql_str_eq(f->name, name)) {
            return f;
        }
    }

    return NULL;
}


fql_arg_t *
fql_arg_find(fql_arg_t *args, fql_str_t name)
{
    for ( /* void */ ; args; args = args->next) {
        if (fql_str_eq(args->name, name)) {
            return args;
        }
    }

    return NULL;
}


fql_type_t *
fql_tref_scalar_list(const fql_tref_t *t)
{
    fql_type_t  *it;

    if (t->kind == FQL_TYPE_NON_NULL) {
        t = t->of;
    }

    if (t->kind != FQL_TYPE_LIST) {
        return NULL;
    }

    t = t->of;
    if (t->kind == FQL_TYPE_NON_NULL) {
        t = t->of;
    }

    if (t->kind != FQL_TYPE_NAMED) {
        return NULL;
    }

    it = t->type;

    return it->kind == FQL_T_SCALAR || it->kind == FQL_T_ENUM ? it : NULL;
}


fql_type_t *
fql_tref_named(const fql_tref_t *t)
{
    while (t->kind != FQL_TYPE_NAMED) {
        t = t->of;
    }

    return t->type;
}


size_t
fql_tref_print(const fql_tref_t *t, char *buf, size_t size)
{
    size_t  n;

    if (size == 0) {
        return 0;
    }

    switch (t->kind) {

    case FQL_TYPE_NAMED:
        n = snprintf(buf, size, "%.*s", (int) t->type->name.len,
                     t->type->name.data);
        break;

    case FQL_TYPE_LIST:
        n = snprintf(buf, size, "[");
        if (n < size) {
            n += fql_tref_print(t->of, buf + n, size - n);
        }
        if (n < size) {
            n += snprintf(buf + n, size - n, "]");
        }
        break;

    default: /* FQL_TYPE_NON_NULL */
        n = fql_tref_print(t->of, buf, size);
        if (n < size) {
            n += snprintf(buf + n, size - n, "!");
        }
        break;
    }

    return n < size ? n : size - 1;
}


fql_str_t
fql_snake_case(fql_arena_t *a, fql_str_t name)
{
    size_t      i, n;
    char       *p;
    fql_str_t   r;

    n = name.len;
    for (i = 1; i < name.len; i++) {
        if (name.data[i] >= 'A' && name.data[i] <= 'Z') {
            n++;
        }
    }

    r.data = NULL;
    r.len = 0;

    p = fql_alloc(a, n + 1);
    if (p == NULL) {
        return r;
    }

    r.data = p;
    r.len = n;

    for (i = 0; i < name.len; i++) {
        char  c = name.data[i];

        if (c >= 'A' && c <= 'Z') {
            if (i > 0) {
                *p++ = '_';
            }
            c = (char) (c - 'A' + 'a');
        }

        *p++ = c;
    }

    *p = '\0';

    return r;
}


fql_type_t *
fql_sb_new_type(fql_sb_t *sb, fql_type_kind_t kind, fql_str_t name)
{
    fql_type_t  *t, **pp;

    t = fql_calloc(sb->arena, sizeof(fql_type_t));
    if (t == NULL) {
        return NULL;
    }

    t->kind = kind;
    t->name = name;

    /* keep registration order: introspection lists types as declared */
    for (pp = &sb->schema->types; *pp; pp = &(*pp)->next) { /* void */ }
    *pp = t;

    return t;
}


static fql_tref_t *
fql_sb_named(fql_sb_t *sb, fql_type_t *type, int non_null)
{
    fql_tref_t  *r, *nn;

    r = fql_calloc(sb->arena, sizeof(fql_tref_t));
    if (r == NULL) {
        return NULL;
    }

    r->kind = FQL_TYPE_NAMED;
    r->type = type;

    if (!non_null) {
        return r;
    }

    nn = fql_calloc(sb->arena, sizeof(fql_tref_t));
    if (nn == NULL) {
        return NULL;
    }

    nn->kind = FQL_TYPE_NON_NULL;
    nn->of = r;

    return nn;
}


static fql_tref_t *
fql_sb_wrap(fql_sb_t *sb, fql_type_ref_kind_t kind, fql_tref_t *of)
{
    fql_tref_t  *r;

    r = fql_calloc(sb->arena, sizeof(fql_tref_t));
    if (r == NULL) {
        return NULL;
    }

    r->kind = kind;
    r->of = of;

    return r;
}


static fql_tref_t *
fql_sb_resolve(fql_sb_t *sb, const fql_type_ref_t *ref, int input)
{
    fql_tref_t  *r;
    fql_type_t  *t;

    if (ref->kind != FQL_TYPE_NAMED) {
        r = fql_sb_resolve(sb, ref->of, input);
        if (r == NULL) {
            return NULL;
        }

        r = fql_sb_wrap(sb, ref->kind, r);
        if (r == NULL) {
            fql_sb_error(sb, ref->loc, FQL_NOMEM);
        }

        return r;
    }

    t = fql_schema_type(sb->schema, ref->name);

    if (t == NULL) {
        /* XConnection, XAggregate: made when first named */
        sb->err->message[0] = '\0';
        t = fql_sb_gen_shell(sb, ref->name, ref->loc);
        if (t == NULL && sb->err->message[0]) {
            return NULL;
        }
    }

    if (t == NULL) {
        fql_sb_error(sb, ref->loc, "Unknown type \"%.*s\".",
                     (int) ref->name.len, ref->name.data);
        return NULL;
    }

    if (input && !fql_type_is_input(t)) {
        fql_sb_error(sb, ref->loc,
                     "The type of an argument or input field must be an "
                     "input type, \"%.*s\" is not.",
                     (int) t->name.len, t->name.data);
        return NULL;
    }

    if (!input && t->kind == FQL_T_INPUT) {
        fql_sb_error(sb, ref->loc,
                     "The type of a field must be an output type, "
                     "\"%.*s\" is an input type.",
                     (int) t->name.len, t->name.data);
        return NULL;
    }

    r = fql_sb_named(sb, t, 0);
    if (r == NULL) {
        fql_sb_error(sb, ref->loc, FQL_NOMEM);
    }

    return r;
}


fql_directive_t *
fql_find_directive(fql_directive_t *d, const char *name)
{
    for ( /* void */ ; d; d = d->next) {
        if (fql_str_eqz(d->name, name)) {
            return d;
        }
    }

    return NULL;
}


fql_value_t *
fql_directive_arg(fql_directive_t *d, const char *name)
{
    fql_argument_t  *a;

    for (a = d->args; a; a = a->next) {
        if (fql_str_eqz(a->name, name)) {
            return a->value;
        }
    }

    return NULL;
}


/* a directive's string argument, checked to be a plain SQL identifier */
/* identifiers are quoted in SQL; refuse what could not be one */
static int
fql_sb_ident_ok(fql_str_t s)
{
    size_t  i;

    if (s.len == 0 || s.len > 63) {
        return 0;
    }

    for (i = 0; i < s.len; i++) {
        unsigned char  c = s.data[i];

        if (c < 0x20 || c == '"' || c == 0x7f) {
            return 0;
        }
    }

    return 1;
}


static int
fql_sb_ident_arg(fql_sb_t *sb, fql_directive_t *d, const char *name,
    fql_str_t *out)
{
    fql_value_t  *v;

    v = fql_directive_arg(d, name);
    if (v == NULL) {
        return 0;
    }

    if (v->kind != FQL_VAL_STRING || v->str.len == 0 || v->str.len > 63) {
        return fql_sb_error(sb, v->loc,
                            "@%.*s(%s:) must be a non-empty string of at most "
                            "63 bytes", (int) d->name.len, d->name.data, name);
    }

    if (!fql_sb_ident_ok(v->str)) {
        return fql_sb_error(sb, v->loc,
                            "@%.*s(%s:) is not a valid SQL identifier",
                            (int) d->name.len, d->name.data, name);
    }

    *out = v->str;

    return 0;
}


/*
 * @json(key:) names the field's key in the JSON; else it is the field's
 * name in snake_case.  Keys are written into SQL as quoted literals:
 * no control characters, and no backslash, which a server with
 * standard_conforming_strings off would read as an escape.
 */
static int
fql_sb_json_key(fql_sb_t *sb, fql_directive_t *dirs, fql_str_t name,
    fql_loc_t loc, fql_str_t *key)
{
    size_t            i;
    fql_value_t      *v;
    fql_directive_t  *d;

    d = fql_find_directive(dirs, "json");
    if (d == NULL) {
        *key = fql_snake_case(sb->arena, name);
        return key->data ? 0 : fql_sb_error(sb, loc, FQL_NOMEM);
    }

    v = fql_directive_arg(d, "key");
    if (v == NULL || v->kind != FQL_VAL_STRING || v->str.len == 0) {
        return fql_sb_error(sb, v ? v->loc : d->loc,
                            "@json(key:) must be a non-empty string");
    }

    for (i = 0; i < v->str.len; i++) {
        unsigned char  c = v->str.data[i];

        if (c < 0x20 || c == '\\' || c == 0x7f) {
            return fql_sb_error(sb, v->loc,
                                "@json(key:) must not hold a control "
                                "character or a backslash");
        }
    }

    *key = v->str;

    return 0;
}


static fql_str_t
fql_deprecation(fql_directive_t *dirs)
{
    fql_directive_t  *d;
    fql_value_t      *v;
    fql_str_t         r = { NULL, 0 };

    d = fql_find_directive(dirs, "deprecated");
    if (d == NULL) {
        return r;
    }

    v = fql_directive_arg(d, "reason");
    if (v != NULL && v->kind == FQL_VAL_STRING) {
        return v->str;
    }

    return fql_str_z("No longer supported");
}


/* @fromClaim(pointer:) of an argument: a JSON pointer into the claims */
static int
fql_sb_from_claim(fql_sb_t *sb, fql_input_value_def_t *d, fql_arg_t *a)
{
    fql_value_t      *v;
    fql_directive_t  *fc;

    fc = fql_find_directive(d->directives, "fromClaim");
    if (fc == NULL) {
        return 0;
    }

    v = fql_directive_arg(fc, "pointer");

    if (v == NULL || v->kind != FQL_VAL_STRING
        || !fql_json_pointer_valid(v->str))
    {
        return fql_sb_error(sb, fc->loc, "@fromClaim on \"%.*s\": pointer "
                            "must be a JSON pointer (RFC 6901), such as "
                            "\"/sub\"", fql_pstr(d->name));
    }

    a->from_claim = v->str;

    return 0;
}


static int
fql_sb_args(fql_sb_t *sb, fql_input_value_def_t *defs, fql_arg_t **out)
{
    fql_arg_t              *a, **tail;
    fql_input_value_def_t  *d;

    tail = out;

    for (d = defs; d; d = d->next) {
        if (fql_arg_find(*out, d->name) != NULL) {
            return fql_sb_error(sb, d->loc, "Duplicate argument \"%.*s\".",
                                (int) d->name.len, d->name.data);
        }

        a = fql_calloc(sb->arena, sizeof(fql_arg_t));
        if (a == NULL) {
            return fql_sb_error(sb, d->loc, FQL_NOMEM);
        }

        a->name = d->name;
        a->description = d->description;
        a->default_value = d->default_value;
        a->type = fql_sb_resolve(sb, d->type, 1);

        if (a->type == NULL) {
            return -1;
        }

        if (fql_sb_json_key(sb, d->directives, d->name, d->loc,
                            &a->json_key) != 0
            || fql_sb_from_claim(sb, d, a) != 0)
        {
            return -1;
        }

        *tail = a;
        tail = &a->next;
    }

    return 0;
}


/*
 * The @fromClaim arguments of a field move out of its arguments: no
 * client sees them (introspection) or sets them (validation).  Only a
 * SQL function takes them.
 */
static int
fql_sb_claim_args(fql_sb_t *sb, fql_field_t *f)
{
    fql_arg_t  *a, **pa, **tail;

    tail = &f->claim_args;

    for (pa = &f->args; *pa; /* void */) {
        a = *pa;

        if (a->from_claim.data == NULL) {
            pa = &a->next;
            continue;
        }

        if (f->fn_name.len == 0) {
            return fql_sb_error(sb, f->loc, "@fromClaim on \"%.*s\" of "
                                "\"%.*s\": only arguments of fields with "
                                "@function are bound from claims",
                                fql_pstr(a->name), fql_pstr(f->name));
        }

        *pa = a->next;
        a->next = NULL;
        *tail = a;
        tail = &a->next;
    }

    return 0;
}


static int
fql_sb_fields(fql_sb_t *sb, fql_type_t *t, fql_field_def_t *defs)
{
    fql_field_t      *f, **tail;
    fql_field_def_t  *d;
    fql_directive_t  *col, *fn;

    for (tail = &t->fields; *tail; tail = &(*tail)->next) { /* void */ }

    for (d = defs; d; d = d->next) {
        if (fql_type_field(t, d->name) != NULL) {
            return fql_sb_error(sb, d->loc,
                                "Field \"%.*s.%.*s\" can only be defined "
                                "once.", (int) t->name.len, t->name.data,
                                (int) d->name.len, d->name.data);
        }

        if (!sb->builtin && d->name.len >= 2 && d->name.data[0] == '_'
            && d->name.data[1] == '_')
        {
            return fql_sb_error(sb, d->loc,
                                "Name \"%.*s\" must not begin with \"__\", "
                                "which is reserved by GraphQL "
                                "introspection.",
                                (int) d->name.len, d->name.data);
        }

        f = fql_calloc(sb->arena, sizeof(fql_field_t));
        if (f == NULL) {
            return fql_sb_error(sb, d->loc, FQL_NOMEM);
        }

        f->name = d->name;
        f->description = d->description;
        f->loc = d->loc;
        f->deprecation = fql_deprecation(d->directives);
        f->type = fql_sb_resolve(sb, d->type, 0);

        if (f->type == NULL
            || fql_sb_json_key(sb, d->directives, d->name, d->loc,
                               &f->json_key) != 0)
        {
            return -1;
        }

        if (fql_sb_args(sb, d->args, &f->args) != 0) {
            return -1;
        }

        fn = fql_find_directive(d->directives, "function");
        if (fn != NULL) {
            if (fql_sb_ident_arg(sb, fn, "name", &f->fn_name) != 0
                || fql_sb_ident_arg(sb, fn, "schema", &f->fn_schema) != 0)
            {
                return -1;
            }

            if (f->fn_name.len == 0) {
                return fql_sb_error(sb, d->loc,
                                    "@function on \"%.*s\" needs a name",
                                    (int) d->name.len, d->name.data);
            }
        }

        if (fql_sb_claim_args(sb, f) != 0) {
            return -1;
        }

        /* the column: @column(name:), else the JSON key */
        col = fql_find_directive(d->directives, "column");
        if (col != NULL) {
            f->column = f->json_key;
            if (fql_sb_ident_arg(sb, col, "name", &f->column) != 0) {
                return -1;
            }

            if (!fql_sb_ident_ok(f->column)) {
                return fql_sb_error(sb, col->loc,
                                    "@column on \"%.*s\" needs a name: "
                                    "its JSON key is not a valid SQL "
                                    "identifier", fql_pstr(d->name));
            }
        }

        *tail = f;
        tail = &f->next;
    }

    return 0;
}


static int
fql_sb_type_list(fql_sb_t *sb, fql_name_list_t *names,
    fql_type_list_t **out, fql_type_kind_t want, const char *what)
{
    fql_type_t       *t;
    fql_type_list_t  *l, **tail;

    for (tail = out; *tail; tail = &(*tail)->next) { /* void */ }

    for ( /* void */ ; names; names = names->next) {
        t = fql_schema_type(sb->schema, names->name);
        if (t == NULL || t->kind != want) {
            return fql_sb_error(sb, names->loc, "%s \"%.*s\" is not %s.",
                                t ? "Type" : "Unknown type",
                                (int) names->name.len, names->name.data,
                                what);
        }

        l = fql_calloc(sb->arena, sizeof(fql_type_list_t));
        if (l == NULL) {
            return fql_sb_error(sb, names->loc, FQL_NOMEM);
        }

        l->type = t;
        *tail = l;
        tail = &l->next;
    }

    return 0;
}


static int
fql_sb_declare(fql_sb_t *sb, fql_definition_t *d)
{
    fql_type_t       *t;
    fql_type_kind_t   kind;

    switch (d->kind) {
    case FQL_DEF_SCALAR:       kind = FQL_T_SCALAR; break;
    case FQL_DEF_OBJECT:       kind = FQL_T_OBJECT; break;
    case FQL_DEF_INTERFACE:    kind = FQL_T_INTERFACE; break;
    case FQL_DEF_UNION:        kind = FQL_T_UNION; break;
    case FQL_DEF_ENUM:         kind = FQL_T_ENUM; break;
    case FQL_DEF_INPUT_OBJECT: kind = FQL_T_INPUT; break;

    case FQL_DEF_OPERATION:
    case FQL_DEF_FRAGMENT:
        return fql_sb_error(sb, d->loc,
                            "A schema file holds type definitions only, "
                            "not operations or fragments.");
    default:
        return 0;
    }

    t = fql_schema_type(sb->schema, d->name);

    if (d->extension) {
        if (t == NULL || t->kind != kind) {
            return fql_sb_error(sb, d->loc,
                                "Cannot extend type \"%.*s\": it is not "
                                "defined as that kind.",
                                (int) d->name.len, d->name.data);
        }
        return 0;
    }

    if (t != NULL) {
        /* redeclaring a built-in scalar is harmless and common */
        if (t->builtin && kind == FQL_T_SCALAR) {
            return 0;
        }

        return fql_sb_error(sb, d->loc,
                            "There can be only one type named \"%.*s\".",
                            (int) d->name.len, d->name.data);
    }

    if (!sb->builtin && d->name.len >= 2 && d->name.data[0] == '_'
        && d->name.data[1] == '_')
    {
        return fql_sb_error(sb, d->loc,
                            "Name \"%.*s\" must not begin with \"__\".",
                            (int) d->name.len, d->name.data);
    }

    t = fql_sb_new_type(sb, kind, d->name);
    if (t == NULL) {
        return fql_sb_error(sb, d->loc, FQL_NOMEM);
    }

    t->description = d->description;
    t->scalar = kind == FQL_T_ENUM ? FQL_SCALAR_ENUM : FQL_SCALAR_JSON;
    t->builtin = sb->builtin;

    if (kind == FQL_T_OBJECT && fql_find_directive(d->directives, "view")) {
        return fql_sb_where_order_declare(sb, t, d->loc);
    }

    return 0;
}


static int
fql_sb_directive(fql_sb_t *sb, fql_definition_t *d)
{
    fql_directive_def_t  *dd, **tail;

    for (tail = &sb->schema->directives; *tail; tail = &(*tail)->next) {
        if (fql_str_eq((*tail)->name, d->name)) {
            /* the module's own directives may be declared for tools */
            if ((*tail)->builtin && !sb->builtin
                && !fql_str_eqz(d->name, "skip")
                && !fql_str_eqz(d->name, "include"))
            {
                return 0;
            }

            return fql_sb_error(sb, d->loc,
                                "There can be only one directive named "
                                "\"@%.*s\".", (int) d->name.len,
                                d->name.data);
        }
    }

    dd = fql_calloc(sb->arena, sizeof(fql_directive_def_t));
    if (dd == NULL) {
        return fql_sb_error(sb, d->loc, FQL_NOMEM);
    }

    dd->name = d->name;
    dd->description = d->description;
    dd->locations = d->locations;
    dd->repeatable = d->repeatable;
    dd->builtin = sb->builtin;

    if (fql_sb_args(sb, d->input_fields, &dd->args) != 0) {
        return -1;
    }

    *tail = dd;

    return 0;
}


static int
fql_sb_define(fql_sb_t *sb, fql_definition_t *d)
{
    fql_type_t            *t;
    fql_directive_t       *view;
    fql_enum_value_def_t  *ev;
    fql_enum_value_t      *v, **vtail;

    if (d->kind == FQL_DEF_SCHEMA) {
        return 0;
    }

    if (d->kind == FQL_DEF_DIRECTIVE) {
        return 0;
    }

    t = fql_schema_type(sb->schema, d->name);
    if (t == NULL || (t->builtin && !sb->builtin && !d->extension)) {
        return 0;
    }

    switch (t->kind) {

    case FQL_T_OBJECT:
    case FQL_T_INTERFACE:
        if (fql_sb_fields(sb, t, d->fields) != 0
            || fql_sb_type_list(sb, d->interfaces, &t->interfaces,
                                FQL_T_INTERFACE, "an interface") != 0)
        {
            return -1;
        }

        view = fql_find_directive(d->directives, "view");
        if (view != NULL) {
            if (t->kind != FQL_T_OBJECT) {
                return fql_sb_error(sb, view->loc,
                                    "@view applies to object types only");
            }

            if (fql_sb_ident_arg(sb, view, "name", &t->view_name) != 0
                || fql_sb_ident_arg(sb, view, "schema", &t->view_schema)
                   != 0)
            {
                return -1;
            }

            if (t->view_name.len == 0) {
                return fql_sb_error(sb, view->loc,
                                    "@view needs a name: "
                                    "@view(name: \"v_x\")");
            }
        }

        return 0;

    case FQL_T_UNION:
        return fql_sb_type_list(sb, d->members, &t->members, FQL_T_OBJECT,
                                "an object type");

    case FQL_T_ENUM:
        for (vtail = &t->values; *vtail; vtail = &(*vtail)->next) { /* void */ }

        for (ev = d->values; ev; ev = ev->next) {
            v = fql_calloc(sb->arena, sizeof(fql_enum_value_t));
            if (v == NULL) {
                return fql_sb_error(sb, ev->loc, FQL_NOMEM);
            }

            v->name = ev->name;
            v->description = ev->description;
            v->deprecation = fql_deprecation(ev->directives);
            *vtail = v;
            vtail = &v->next;
        }

        return 0;

    case FQL_T_INPUT:
        {
        fql_arg_t  **tail;

        for (tail = &t->input_fields; *tail; tail = &(*tail)->next) {
            /* void */
        }

        return fql_sb_args(sb, d->input_fields, tail);
        }

    default:
        return 0;
    }
}


static fql_arg_t *
fql_sb_add_input(fql_sb_t *sb, fql_type_t *input, const char *name,
    fql_tref_t *type)
{
    fql_arg_t  *a, **tail;

    a = fql_calloc(sb->arena, sizeof(fql_arg_t));
    if (a == NULL || type == NULL) {
        return NULL;
    }

    a->name = fql_str_z(name);
    a->type = type;

    for (tail = &input->input_fields; *tail; tail = &(*tail)->next) {
        /* void */
    }
    *tail = a;

    return a;
}


fql_str_t
fql_sb_concat(fql_sb_t *sb, fql_str_t a, const char *b)
{
    size_t     n;
    char      *p;
    fql_str_t  r = { NULL, 0 };

    n = strlen(b);
    p = fql_alloc(sb->arena, a.len + n + 1);
    if (p == NULL) {
        return r;
    }

    memcpy(p, a.data, a.len);
    memcpy(p + a.len, b, n + 1);

    r.data = p;
    r.len = a.len + n;

    return r;
}


/* the input object an operator takes, declared on first use */
static fql_type_t *
fql_sb_op_input(fql_sb_t *sb, const char *name)
{
    int          i;
    fql_type_t  *t;
    fql_loc_t    noloc = { 0, 0 };

    t = fql_schema_type(sb->schema, fql_str_z(name));
    if (t != NULL) {
        if (!t->generated) {
            fql_sb_error(sb, noloc, "\"%s\" is generated by the "
                         "module for its operators; rename the type", name);
            return NULL;
        }
        return t;
    }

    for (i = 0; fql_op_inputs[i].name; i++) {
        if (strcmp(fql_op_inputs[i].name, name) == 0) {
            break;
        }
    }

    if (fql_op_inputs[i].name == NULL
        || fql_sb_load_text(sb, fql_op_inputs[i].sdl,
                            strlen(fql_op_inputs[i].sdl)) != 0)
    {
        return NULL;
    }

    t = fql_schema_type(sb->schema, fql_str_z(name));
    if (t != NULL) {
        t->generated = 1;
    }

    return t;
}


/*
 * The operator input of a scalar or enum type (StringFilter, ...) or of
 * a list of them (StringArrayFilter, ...).
 */
static fql_type_t *
fql_sb_filter_type(fql_sb_t *sb, fql_type_t *scalar, int array)
{
    unsigned               mask;
    fql_str_t              name;
    fql_type_t            *t, *vt;
    fql_tref_t            *tr;
    const fql_operator_t  *op;
    fql_arg_t             *a;

    name = fql_sb_concat(sb, scalar->name, array ? "ArrayFilter" : "Filter");
    if (name.data == NULL) {
        return NULL;
    }

    t = fql_schema_type(sb->schema, name);
    if (t != NULL) {
        return t;
    }

    t = fql_sb_new_type(sb, FQL_T_INPUT, name);
    if (t == NULL) {
        return NULL;
    }

    t->generated = 1;
    t->filter = 1;
    t->scalar = scalar->scalar;
    t->description = array
                     ? fql_sb_concat(sb, scalar->name, " list operators.")
                     : fql_sb_concat(sb, scalar->name,
                                     " comparison operators.");

    mask = array ? FQL_OP_ARRAYS : 1u << scalar->scalar;

    for (op = fql_operators; op->name; op++) {
        if (!(op->scalars & mask)) {
            continue;
        }

        switch (op->value) {

        case FQL_OPV_SAME:
            tr = fql_sb_named(sb, scalar, 0);
            break;

        case FQL_OPV_LIST:
        case FQL_OPV_STRING_LIST:
            vt = op->value == FQL_OPV_LIST
                 ? scalar : sb->schema->scalars[FQL_SCALAR_STRING];
            tr = fql_sb_named(sb, vt, 1);
            tr = tr ? fql_sb_wrap(sb, FQL_TYPE_LIST, tr) : NULL;
            break;

        case FQL_OPV_INT:
            tr = fql_sb_named(sb, sb->schema->scalars[FQL_SCALAR_INT], 0);
            break;

        case FQL_OPV_STRING:
            tr = fql_sb_named(sb, sb->schema->scalars[FQL_SCALAR_STRING], 0);
            break;

        case FQL_OPV_DATE:
            tr = fql_sb_named(sb, fql_schema_type(sb->schema,
                                                  fql_str_z("Date")), 0);
            break;

        case FQL_OPV_INPUT:
            vt = fql_sb_op_input(sb, op->input);
            if (vt == NULL) {
                return NULL;
            }
            tr = fql_sb_named(sb, vt, 0);
            break;

        default: /* FQL_OPV_BOOLEAN */
            tr = fql_sb_named(sb, sb->schema->scalars[FQL_SCALAR_BOOLEAN], 0);
            break;
        }

        a = fql_sb_add_input(sb, t, op->name, tr);
        if (a == NULL) {
            return NULL;
        }

        a->op = op;
    }

    return t;
}


/* declares the shells of TWhereInput and TOrderByInput for an @view type */
static int
fql_sb_where_order_declare(fql_sb_t *sb, fql_type_t *t, fql_loc_t loc)
{
    fql_str_t    name;
    fql_type_t  *in[2];
    int          i;
    static const char  *suffix[2] = { "WhereInput", "OrderByInput" };

    for (i = 0; i < 2; i++) {
        name = fql_sb_concat(sb, t->name, suffix[i]);
        if (name.data == NULL) {
            return fql_sb_error(sb, loc, FQL_NOMEM);
        }

        if (fql_schema_type(sb->schema, name) != NULL) {
            return fql_sb_error(sb, loc,
                                "\"%.*s\" is generated from \"%.*s\"; "
                                "remove its declaration",
                                (int) name.len, name.data,
                                (int) t->name.len, t->name.data);
        }

        in[i] = fql_sb_new_type(sb, FQL_T_INPUT, name);
        if (in[i] == NULL) {
            return fql_sb_error(sb, loc, FQL_NOMEM);
        }

        in[i]->generated = 1;
    }

    t->where_input = in[0];
    t->order_input = in[1];

    return 0;
}


static int
fql_sb_where_order(fql_sb_t *sb, fql_type_t *t)
{
    int          array;
    fql_type_t  *where, *order, *ft, *filter;
    fql_field_t *f;
    fql_arg_t   *a;
    fql_tref_t  *tr;
    fql_loc_t    noloc = { 0, 0 };

    if (t->where_done) {
        return 0;
    }

    /* set first: a type may reach itself through its object fields */
    t->where_done = 1;

    /*
     * A view's `id` field is its id column (FraiseQL's views all have
     * one): filters and orders by id use the key's index and its type,
     * numbers as numbers, not the text of data->>'id'.
     */
    if (t->view_name.len) {
        for (f = t->fields; f; f = f->next) {
            if (f->column.len == 0 && fql_str_eqz(f->name, "id")
                && fql_tref_named(f->type)->kind == FQL_T_SCALAR
                && fql_tref_scalar_list(f->type) == NULL)
            {
                f->column.data = "id";
                f->column.len = 2;
            }
        }
    }

    where = t->where_input;
    order = t->order_input;

    where->description = fql_sb_concat(sb, t->name, " filter.");
    order->description = fql_sb_concat(sb, t->name, " ordering.");

    for (f = t->fields; f; f = f->next) {
        ft = fql_tref_scalar_list(f->type);
        array = ft != NULL;

        if (!array) {
            tr = f->type->kind == FQL_TYPE_NON_NULL ? f->type->of : f->type;
            if (tr->kind != FQL_TYPE_NAMED) {
                continue;   /* lists of objects */
            }
            ft = tr->type;
        }

        if (ft->kind == FQL_T_OBJECT) {
            /* nested objects filter and order through their JSON */
            if (ft->where_input == NULL
                && fql_sb_where_order_declare(sb, ft, f->loc) != 0)
            {
                return -1;
            }

            if (fql_sb_where_order(sb, ft) != 0) {
                return -1;
            }

            filter = ft->where_input;

        } else if (ft->kind == FQL_T_SCALAR || ft->kind == FQL_T_ENUM) {
            sb->err->message[0] = '\0';
            filter = fql_sb_filter_type(sb, ft, array);
            if (filter == NULL) {
                return sb->err->message[0] ? -1
                       : fql_sb_error(sb, noloc, FQL_NOMEM);
            }

        } else {
            continue;
        }

        /* named below: the field's name is not NUL-terminated */
        a = fql_sb_add_input(sb, where, "", fql_sb_named(sb, filter, 0));
        if (a == NULL) {
            return fql_sb_error(sb, noloc, FQL_NOMEM);
        }

        a->name = f->name;
        a->filter_field = f;

        /* lists do not sort; neither do points */
        if (array || (ft->kind == FQL_T_SCALAR
                      && ft->scalar == FQL_SCALAR_POINT))
        {
            continue;
        }

        a = fql_sb_add_input(sb, order, "",
                             ft->kind == FQL_T_OBJECT
                             ? fql_sb_named(sb, ft->order_input, 0)
                             : fql_sb_named(sb, sb->schema->order_direction,
                                            0));
        if (a == NULL) {
            return fql_sb_error(sb, noloc, FQL_NOMEM);
        }

        a->name = f->name;
        a->filter_field = f;
    }

    tr = fql_sb_named(sb, where, 1);
    tr = tr ? fql_sb_wrap(sb, FQL_TYPE_LIST, tr) : NULL;
    if (fql_sb_add_input(sb, where, "AND", tr) == NULL) {
        return fql_sb_error(sb, noloc, FQL_NOMEM);
    }

    tr = fql_sb_named(sb, where, 1);
    tr = tr ? fql_sb_wrap(sb, FQL_TYPE_LIST, tr) : NULL;
    if (fql_sb_add_input(sb, where, "OR", tr) == NULL
        || fql_sb_add_input(sb, where, "NOT", fql_sb_named(sb, where, 0))
           == NULL)
    {
        return fql_sb_error(sb, noloc, FQL_NOMEM);
    }

    return 0;
}


/* where/orderBy/limit/offset of a list over t, with their own types */
int
fql_sb_list_control(fql_sb_t *sb, const fql_type_t *t, const fql_arg_t *a)
{
    fql_type_t  *at;

    at = fql_tref_named(a->type);

    if (fql_str_eqz(a->name, "where")) {
        return at == t->where_input && a->type->kind == FQL_TYPE_NAMED;
    }

    if (fql_str_eqz(a->name, "orderBy")) {
        return at == t->order_input;
    }

    return (fql_str_eqz(a->name, "limit") || fql_str_eqz(a->name, "offset"))
           && at == sb->schema->scalars[FQL_SCALAR_INT];
}


static int
fql_sb_is_control_name(fql_str_t name)
{
    return fql_str_eqz(name, "where") || fql_str_eqz(name, "orderBy")
           || fql_str_eqz(name, "limit") || fql_str_eqz(name, "offset");
}


/*
 * A query field with @function reads the rows of a set-returning SQL
 * function shaped like its type's view (id, data): its own arguments
 * are the function's, by name; a list also takes where, orderBy, limit
 * and offset, applied on top as for a view.
 */
static int
fql_sb_query_fn(fql_sb_t *sb, fql_field_t *f, fql_type_t *t, int list)
{
    fql_arg_t   *a;
    fql_tref_t  *tr;

    f->root = FQL_ROOT_QUERY_FN;

    for (a = f->args; a; a = a->next) {
        if (fql_sb_is_control_name(a->name)) {
            if (list && fql_sb_list_control(sb, t, a)) {
                continue;
            }

            return fql_sb_error(sb, f->loc,
                                "Query function \"%.*s\": \"%.*s\" is "
                                "reserved for lists (where: %.*s, orderBy: "
                                "[%.*s!], limit: Int, offset: Int)",
                                fql_pstr(f->name), fql_pstr(a->name),
                                fql_pstr(t->where_input->name),
                                fql_pstr(t->order_input->name));
        }

        tr = a->type->kind == FQL_TYPE_NON_NULL ? a->type->of : a->type;

        if (tr->kind != FQL_TYPE_NAMED
            || (tr->type->kind != FQL_T_SCALAR
                && tr->type->kind != FQL_T_ENUM))
        {
            return fql_sb_error(sb, f->loc,
                                "Query function \"%.*s\": argument "
                                "\"%.*s\" must be a scalar or an enum "
                                "(input objects and lists are not "
                                "supported)",
                                fql_pstr(f->name), fql_pstr(a->name));
        }

        a->fn_param = 1;
    }

    return 0;
}


/* checks the arguments of a root query field against what it does */
static int
fql_sb_root_field(fql_sb_t *sb, fql_field_t *f)
{
    fql_type_t        *t, *view;
    fql_tref_t        *tr;
    fql_arg_t         *a;
    fql_type_t        *at;

    tr = f->type;
    if (tr->kind == FQL_TYPE_NON_NULL) {
        tr = tr->of;
    }

    t = fql_tref_named(tr);

    if (t->gen == FQL_GEN_CONNECTION || t->gen == FQL_GEN_AGGREGATE) {
        return fql_sb_gen_root(sb, f, t);
    }

    /* XConnection declared by hand: the module's are generated */
    view = fql_sb_gen_view(sb, t->name, NULL);

    if (view != NULL) {
        return fql_sb_error(sb, f->loc, "Query field \"%.*s\": \"%.*s\" is "
                            "generated from \"%.*s\"; remove its "
                            "declaration", fql_pstr(f->name),
                            fql_pstr(t->name), fql_pstr(view->name));
    }

    if (t->kind != FQL_T_OBJECT || t->view_name.len == 0) {
        return fql_sb_error(sb, f->loc,
                            "Query field \"%.*s\" must return an object "
                            "type bound to a view with @view (or a list "
                            "of one)", (int) f->name.len, f->name.data);
    }

    if (tr->kind == FQL_TYPE_LIST) {
        tr = tr->of;
        if (tr->kind == FQL_TYPE_NON_NULL) {
            tr = tr->of;
        }

        if (tr->kind != FQL_TYPE_NAMED) {
            return fql_sb_error(sb, f->loc,
                                "Query field \"%.*s\": lists of lists are "
                                "not supported",
                                (int) f->name.len, f->name.data);
        }

        if (f->fn_name.len) {
            return fql_sb_query_fn(sb, f, t, 1);
        }

        f->root = FQL_ROOT_LIST;

        for (a = f->args; a; a = a->next) {
            if (fql_sb_list_control(sb, t, a)) {
                continue;
            }

            return fql_sb_error(sb, f->loc,
                                "List field \"%.*s\" takes where: %.*s, "
                                "orderBy: [%.*s!], limit: Int, offset: Int; "
                                "not \"%.*s\"",
                                (int) f->name.len, f->name.data,
                                (int) t->where_input->name.len,
                                t->where_input->name.data,
                                (int) t->order_input->name.len,
                                t->order_input->name.data,
                                (int) a->name.len, a->name.data);
        }

        return 0;
    }

    if (f->fn_name.len) {
        return fql_sb_query_fn(sb, f, t, 0);
    }

    f->root = FQL_ROOT_BY_ID;

    a = f->args;
    if (a == NULL || a->next != NULL || !fql_str_eqz(a->name, "id")
        || a->type->kind != FQL_TYPE_NON_NULL)
    {
        return fql_sb_error(sb, f->loc,
                            "Query field \"%.*s\" returns one object: it "
                            "takes exactly one argument, id: ID! (or "
                            "another non-null scalar)",
                            (int) f->name.len, f->name.data);
    }

    at = fql_tref_named(a->type);
    if (at->kind != FQL_T_SCALAR || a->type->of->kind != FQL_TYPE_NAMED) {
        return fql_sb_error(sb, f->loc,
                            "Query field \"%.*s\": id must be a scalar",
                            (int) f->name.len, f->name.data);
    }

    return 0;
}


/* the Error member of a mutation's result: named *Error, or with code */
static int
fql_sb_is_error_type(const fql_type_t *t)
{
    fql_str_t  code = fql_str_lit("code");

    if (t->name.len > 5
        && memcmp(t->name.data + t->name.len - 5, "Error", 5) == 0)
    {
        return 1;
    }

    return fql_type_field(t, code) != NULL;
}


/*
 * A mutation that returns its object type directly: a success is the
 * entity, an error a GraphQL error that makes the field null, so the
 * field must be nullable (a null would otherwise null all of "data").
 */
static int
fql_sb_mutation_object(fql_sb_t *sb, fql_field_t *f, fql_type_t *t)
{
    if (f->type->kind == FQL_TYPE_NON_NULL) {
        return fql_sb_error(sb, f->loc,
                            "Mutation field \"%.*s\" returns \"%.*s\" "
                            "directly: it must be nullable (\"%.*s\", not "
                            "\"%.*s!\"), as an error makes it null",
                            (int) f->name.len, f->name.data,
                            (int) t->name.len, t->name.data,
                            (int) t->name.len, t->name.data,
                            (int) t->name.len, t->name.data);
    }

    /* no Error member: the object is the success and its own entity */
    f->success = t;
    f->failure = NULL;
    f->entity = NULL;
    f->root = FQL_ROOT_FUNCTION;

    return 0;
}


/*
 * A mutation field calls a SQL function (@function) with one input
 * object and answers a union of a Success and an Error object type, or
 * its object type directly.
 */
static int
fql_sb_mutation_field(fql_sb_t *sb, fql_field_t *f)
{
    fql_type_t       *t, *a, *b;
    fql_tref_t       *tr;
    fql_field_t      *g;
    fql_type_list_t  *m;

    if (f->fn_name.len == 0) {
        return fql_sb_error(sb, f->loc,
                            "Mutation field \"%.*s\" needs @function(name: "
                            "\"...\") naming the SQL function it calls",
                            (int) f->name.len, f->name.data);
    }

    if (f->args == NULL || f->args->next != NULL
        || !fql_str_eqz(f->args->name, "input")
        || f->args->type->kind != FQL_TYPE_NON_NULL
        || f->args->type->of->kind != FQL_TYPE_NAMED
        || f->args->type->of->type->kind != FQL_T_INPUT)
    {
        return fql_sb_error(sb, f->loc,
                            "Mutation field \"%.*s\" takes exactly one "
                            "argument, input: SomeInput! (an input object)",
                            (int) f->name.len, f->name.data);
    }

    tr = f->type->kind == FQL_TYPE_NON_NULL ? f->type->of : f->type;
    t = tr->kind == FQL_TYPE_NAMED ? tr->type : NULL;

    if (t != NULL && t->kind == FQL_T_OBJECT) {
        return fql_sb_mutation_object(sb, f, t);
    }

    m = t && t->kind == FQL_T_UNION ? t->members : NULL;

    if (m == NULL || m->next == NULL || m->next->next != NULL) {
        return fql_sb_error(sb, f->loc,
                            "Mutation field \"%.*s\" must return an "
                            "object type (e.g. User) or a union of two "
                            "object types, a Success and an Error (e.g. "
                            "union CreateUserResult = CreateUserSuccess | "
                            "CreateUserError)",
                            (int) f->name.len, f->name.data);
    }

    a = m->type;
    b = m->next->type;

    if (fql_sb_is_error_type(a) == fql_sb_is_error_type(b)) {
        return fql_sb_error(sb, f->loc,
                            "Mutation field \"%.*s\": one member of \"%.*s\" "
                            "must be the Error type (named ...Error, or with "
                            "a code field), the other the Success type",
                            (int) f->name.len, f->name.data,
                            (int) t->name.len, t->name.data);
    }

    f->failure = fql_sb_is_error_type(a) ? a : b;
    f->success = f->failure == a ? b : a;
    f->root = FQL_ROOT_FUNCTION;

    /* the entity: the Success type's field of an object type */
    for (g = f->success->fields; g; g = g->next) {
        tr = g->type->kind == FQL_TYPE_NON_NULL ? g->type->of : g->type;

        if (tr->kind != FQL_TYPE_NAMED || tr->type->kind != FQL_T_OBJECT) {
            continue;
        }

        if (f->entity != NULL) {
            return fql_sb_error(sb, g->loc,
                                "\"%.*s\" has two object fields; the "
                                "entity a mutation returns must be one",
                                (int) f->success->name.len,
                                f->success->name.data);
        }

        f->entity = g;
    }

    return 0;
}


static int
fql_sb_builtins(fql_sb_t *sb)
{
    int           i;
    fql_type_t   *t;
    fql_str_t     asc = fql_str_lit("ASC"), desc = fql_str_lit("DESC");
    fql_enum_value_t  *v;

    for (i = 0; i < FQL_SCALAR_N; i++) {
        if (fql_scalars[i].description == NULL) {
            continue;
        }

        t = fql_sb_new_type(sb, FQL_T_SCALAR, fql_str_z(fql_scalars[i].name));
        if (t == NULL) {
            return -1;
        }

        t->builtin = 1;
        t->scalar = i;
        t->description = fql_str_z(fql_scalars[i].description);
        sb->schema->scalars[i] = t;
    }

    t = fql_sb_new_type(sb, FQL_T_ENUM, fql_str_z("OrderDirection"));
    if (t == NULL) {
        return -1;
    }

    t->builtin = 1;
    t->scalar = FQL_SCALAR_ENUM;
    t->description = fql_str_z("Sort direction: ascending (nulls last) or "
                               "descending (nulls first).");
    sb->schema->order_direction = t;

    v = fql_calloc(sb->arena, sizeof(fql_enum_value_t));
    if (v == NULL) {
        return -1;
    }

    v->name = asc;
    t->values = v;

    v = fql_calloc(sb->arena, sizeof(fql_enum_value_t));
    if (v == NULL) {
        return -1;
    }

    v->name = desc;
    t->values->next = v;

    return 0;
}


/* declares every type first so that definitions may refer to any */
int
fql_sb_load(fql_sb_t *sb, fql_document_t *doc)
{
    fql_definition_t  *d;

    for (d = doc->definitions; d; d = d->next) {
        if (fql_sb_declare(sb, d) != 0) {
            return -1;
        }
    }

    /* all directives known before any use is checked, as types are */
    for (d = doc->definitions; d; d = d->next) {
        if (d->kind == FQL_DEF_DIRECTIVE && fql_sb_directive(sb, d) != 0) {
            return -1;
        }
    }

    if (!sb->builtin
        && fql_sdl_check_directives(sb->schema, doc, sb->err) != 0)
    {
        return -1;
    }

    for (d = doc->definitions; d; d = d->next) {
        if (fql_sb_define(sb, d) != 0) {
            return -1;
        }
    }

    return 0;
}


int
fql_sb_load_text(fql_sb_t *sb, const char *sdl, size_t len)
{
    unsigned            builtin;
    fql_document_t     *doc;
    fql_parse_limits_t  limits = { 0, 0 };

    /* the module's own text: no directive of the user's to check */
    builtin = sb->builtin;
    sb->builtin = 1;

    if (fql_parse_document(sb->arena, sdl, len, &limits, &doc, sb->err) != 0
        || fql_sb_load(sb, doc) != 0)
    {
        sb->builtin = builtin;
        return -1;
    }

    sb->builtin = builtin;

    return 0;
}


int
fql_schema_build(fql_arena_t *a, const char *sdl, size_t len,
    fql_schema_t **schema, fql_parse_error_t *err)
{
    fql_sb_t            sb;
    fql_schema_t       *s;
    fql_document_t     *doc;
    fql_definition_t   *d;
    fql_root_op_t      *ro;
    fql_type_t         *t, **root;
    fql_field_t        *f;
    fql_loc_t           noloc = { 0, 0 };
    fql_parse_limits_t  limits = { 0, 0 };

    memset(err, 0, sizeof(fql_parse_error_t));

    s = fql_calloc(a, sizeof(fql_schema_t));
    if (s == NULL) {
        snprintf(err->message, sizeof(err->message), FQL_NOMEM);
        return -1;
    }

    s->arena = a;
    sb.arena = a;
    sb.schema = s;
    sb.err = err;
    sb.builtin = 1;

    if (fql_sb_builtins(&sb) != 0) {
        return fql_sb_error(&sb, noloc, FQL_NOMEM);
    }

    if (fql_parse_document(a, fql_builtin_sdl, sizeof(fql_builtin_sdl) - 1,
                           &limits, &doc, err) != 0
        || fql_sb_load(&sb, doc) != 0)
    {
        /* a bug, not a user error: say so */
        char  msg[sizeof(err->message)];

        memcpy(msg, err->message, sizeof(msg));
        snprintf(err->message, sizeof(err->message),
                 "built-in schema: %.200s", msg);
        err->loc = noloc;
        return -1;
    }

    sb.builtin = 0;

    if (fql_parse_document(a, sdl, len, &limits, &doc, err) != 0
        || fql_sb_load(&sb, doc) != 0)
    {
        return -1;
    }

    for (d = doc->definitions; d; d = d->next) {
        if (d->kind != FQL_DEF_SCHEMA) {
            continue;
        }

        for (ro = d->root_ops; ro; ro = ro->next) {
            root = ro->op == FQL_OP_QUERY ? &s->query
                   : ro->op == FQL_OP_MUTATION ? &s->mutation
                   : &s->subscription;

            t = fql_schema_type(s, ro->type_name);
            if (t == NULL || t->kind != FQL_T_OBJECT) {
                return fql_sb_error(&sb, ro->loc,
                                    "Root type \"%.*s\" must be a defined "
                                    "object type.", (int) ro->type_name.len,
                                    ro->type_name.data);
            }

            *root = t;
        }
    }

    if (s->query == NULL) {
        s->query = fql_schema_type(s, fql_str_z("Query"));
    }

    if (s->mutation == NULL) {
        s->mutation = fql_schema_type(s, fql_str_z("Mutation"));
    }

    if (s->subscription == NULL) {
        s->subscription = fql_schema_type(s, fql_str_z("Subscription"));
    }

    if (s->query == NULL || s->query->kind != FQL_T_OBJECT) {
        return fql_sb_error(&sb, noloc,
                            "The schema has no Query type: declare "
                            "\"type Query { ... }\"");
    }

    for (t = s->types; t; t = t->next) {
        if (t->where_input != NULL && fql_sb_where_order(&sb, t) != 0)
        {
            return -1;
        }
    }

    if (fql_sb_gen_fill(&sb) != 0 || fql_sb_auth(&sb, doc) != 0
        || fql_sb_cost(&sb, doc) != 0)
    {
        return -1;
    }

    for (f = s->query->fields; f; f = f->next) {
        if (fql_sb_root_field(&sb, f) != 0) {
            return -1;
        }
    }

    if (s->mutation != NULL) {
        if (s->mutation->kind != FQL_T_OBJECT) {
            return fql_sb_error(&sb, noloc, "\"Mutation\" must be an "
                                "object type");
        }

        for (f = s->mutation->fields; f; f = f->next) {
            if (fql_sb_mutation_field(&sb, f) != 0) {
                return -1;
            }
        }
    }

    /* the measure of a sane introspection answer for this schema */
    s->introspection_size = fql_introspection_size(s);

    *schema = s;

    return 0;
}
