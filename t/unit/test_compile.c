/*
 * Schema and compiler: the SQL text and parameters produced for every
 * operator and shape, and the errors for what must be refused.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fql_compile.h"
#include "fql_cache.h"


static const char  sdl[] =
    "enum Code { A B }\n"
    "type Author { firstName: String lastName: String }\n"
    "type Thing @view(name: \"v_thing\", schema: \"app\") {\n"
    "  id: ID!\n"
    "  name: String\n"
    "  score: Int\n"
    "  ratio: Float\n"
    "  flag: Boolean\n"
    "  code: Code\n"
    "  meta: JSON\n"
    "  when: DateTime\n"
    "  day: Date\n"
    "  uid: UUID\n"
    "  status: String @column\n"
    "  tenantId: UUID @column(name: \"tenant\")\n"
    "  author: Author\n"
    "  tags: [String!]\n"
    "  scores: [Int]\n"
    "  price: Decimal\n"
    "  ip: IpAddress\n"
    "  mac: MacAddress\n"
    "  path: LTree\n"
    "  period: DateRange\n"
    "  body: TSVector\n"
    "  search: TSVector @column\n"
    "  embedding: Vector\n"
    "  place: Point\n"
    "  parent: Thing\n"
    "}\n"
    "type Query {\n"
    "  thing(id: ID!): Thing\n"
    "  things(where: ThingWhereInput, orderBy: [ThingOrderByInput!],\n"
    "         limit: Int, offset: Int): [Thing!]!\n"
    "  searchThings(q: String!, minScore: Int, day: Date, code: Code,\n"
    "               meta: JSON, where: ThingWhereInput,\n"
    "               orderBy: [ThingOrderByInput!], limit: Int,\n"
    "               offset: Int): [Thing!]!\n"
    "    @function(name: \"fn_search\", schema: \"app\")\n"
    "  thingByName(name: String!): Thing @function(name: \"fn_by_name\")\n"
    "  thingsConnection(where: ThingWhereInput,\n"
    "                   orderBy: [ThingOrderByInput!], first: Int,\n"
    "                   after: String, last: Int,\n"
    "                   before: String): ThingConnection!\n"
    "  thingsAggregate(where: ThingWhereInput): ThingAggregate!\n"
    "}\n";


#include "fixture.h"


/* compiles; on success returns the first root plan, else NULL + errs */
static fql_root_plan_t *
compile(fixture_t *f, const char *query, const char *vars,
    fql_errors_t *errs)
{
    fql_plan_t         *plan;
    fql_engine_t        eng;
    fql_request_t       req;
    fql_document_t     *doc;
    fql_parse_error_t   perr;

    fql_errors_init(errs, f->arena);
    eng = f->eng;
    memset(&req, 0, sizeof(req));

    if (fql_parse_document(f->arena, query, strlen(query), NULL, &doc,
                           &perr) != 0)
    {
        fql_error_add(errs, &perr.loc, FQL_CODE_PARSE, "%s", perr.message);
        return NULL;
    }

    if (vars != NULL) {
        req.variables = fql_json_parse(f->arena, vars, strlen(vars), errs);
        assert_non_null(req.variables);
    }

    if (fql_compile(f->arena, &eng, doc, &req, &plan, errs) != 0) {
        return NULL;
    }

    return plan->roots;
}


static void
expect_sql(fixture_t *f, const char *query, const char *vars,
    const char *sql, ...)
{
    va_list           args;
    unsigned          i;
    const char       *p;
    fql_errors_t      errs;
    fql_root_plan_t  *rp;

    rp = compile(f, query, vars, &errs);
    if (rp == NULL) {
        fail_msg("%s: %s", query, errs.head ? errs.head->message : "?");
    }

    assert_string_equal(rp->sql, sql);

    va_start(args, sql);

    for (i = 0; (p = va_arg(args, const char *)) != NULL; i++) {
        assert_true(i < rp->nparams);
        if (strcmp(p, "<NULL>") == 0) {
            assert_null(rp->params[i]);
        } else {
            assert_string_equal(rp->params[i], p);
        }
    }

    va_end(args);

    assert_int_equal(i, rp->nparams);
}


static void
expect_error(fixture_t *f, const char *query, const char *vars,
    const char *fragment)
{
    fql_errors_t   errs;
    fql_error_t   *e;

    assert_null(compile(f, query, vars, &errs));
    assert_true(errs.count > 0);

    for (e = errs.head; e; e = e->next) {
        if (strstr(e->message, fragment) != NULL) {
            return;
        }
    }

    fail_msg("no error with \"%s\" for %s (first: %s)", fragment, query,
             errs.head->message);
}


#define FROM  "SELECT \"data\" FROM \"app\".\"v_thing\""


/* compiles with limits; 0 or -1 with errs */
static int
compile_limited(fixture_t *f, const char *query, const char *vars,
    const fql_compile_limits_t *limits, fql_plan_t **plan,
    fql_errors_t *errs)
{
    fql_engine_t        eng;
    fql_request_t       req;
    fql_document_t     *doc;
    fql_parse_error_t   perr;

    fql_errors_init(errs, f->arena);
    eng = f->eng;
    memset(&req, 0, sizeof(req));

    if (limits != NULL) {
        eng.compile = *limits;
    }

    assert_int_equal(fql_parse_document(f->arena, query, strlen(query), NULL,
                                        &doc, &perr), 0);

    if (vars != NULL) {
        req.variables = fql_json_parse(f->arena, vars, strlen(vars), errs);
        assert_non_null(req.variables);
    }

    return fql_compile(f->arena, &eng, doc, &req, plan, errs);
}


static void
expect_limit(fixture_t *f, const char *query, const char *vars,
    const fql_compile_limits_t *limits, const char *fragment)
{
    fql_plan_t    *plan;
    fql_errors_t   errs;

    assert_int_equal(compile_limited(f, query, vars, limits, &plan, &errs),
                     -1);

    if (strcmp(errs.head->code, FQL_CODE_LIMIT) != 0
        || strstr(errs.head->message, fragment) == NULL)
    {
        fail_msg("%s: %s (%s)", query, errs.head->message, errs.head->code);
    }
}


static void
test_by_id(void **state)
{
    expect_sql(*state, "{ thing(id: \"x'1\") { id } }", NULL,
               FROM " WHERE \"id\" = $1", "x'1", NULL);
    expect_sql(*state, "{ thing(id: 42) { id } }", NULL,
               FROM " WHERE \"id\" = $1", "42", NULL);
    expect_sql(*state, "query ($i: ID!) { thing(id: $i) { id } }",
               "{\"i\": 7}", FROM " WHERE \"id\" = $1", "7", NULL);
}


static void
test_list_plain(void **state)
{
    expect_sql(*state, "{ things { id } }", NULL, FROM, NULL);
    expect_sql(*state, "{ things(limit: 10, offset: 5) { id } }", NULL,
               FROM " LIMIT $1::bigint OFFSET $2::bigint", "10", "5", NULL);
    expect_sql(*state, "{ things(where: {}) { id } }", NULL, FROM, NULL);
}


static void
test_operators_per_type(void **state)
{
    fixture_t  *f = *state;

    expect_sql(f, "{ things(where: {name: {eq: \"a\"}}) { id } }", NULL,
               FROM " WHERE ((\"data\"->>'name')) = $1", "a", NULL);
    expect_sql(f, "{ things(where: {name: {neq: \"a\"}}) { id } }", NULL,
               FROM " WHERE ((\"data\"->>'name')) <> $1", "a", NULL);
    expect_sql(f, "{ things(where: {name: {gt: \"a\", lte: \"z\"}}) "
               "{ id } }", NULL,
               FROM " WHERE ((\"data\"->>'name')) > $1 AND "
               "((\"data\"->>'name')) <= $2", "a", "z", NULL);
    expect_sql(f, "{ things(where: {score: {gte: 3, lt: 9}}) { id } }",
               NULL,
               FROM " WHERE ((\"data\"->>'score')::numeric) >= $1::numeric"
               " AND ((\"data\"->>'score')::numeric) < $2::numeric",
               "3", "9", NULL);
    expect_sql(f, "{ things(where: {ratio: {gt: 1.5e0}}) { id } }", NULL,
               FROM " WHERE ((\"data\"->>'ratio')::numeric) > $1::numeric",
               "1.5e0", NULL);
    expect_sql(f, "{ things(where: {flag: {eq: true}}) { id } }", NULL,
               FROM " WHERE ((\"data\"->>'flag')::boolean) = $1::boolean",
               "true", NULL);
    expect_sql(f, "{ things(where: {code: {eq: B}}) { id } }", NULL,
               FROM " WHERE ((\"data\"->>'code')) = $1", "B", NULL);
    expect_sql(f, "{ things(where: {meta: {eq: {a: [1, \"x\"]}}}) "
               "{ id } }", NULL,
               FROM " WHERE NULLIF(\"data\"->'meta', 'null') = $1::jsonb",
               "{\"a\":[1,\"x\"]}", NULL);
    expect_sql(f, "{ things(where: {when: {lt: \"2024-01-01T00:00:00Z\"}})"
               " { id } }", NULL,
               FROM " WHERE ((\"data\"->>'when')::timestamptz) < "
               "$1::timestamptz", "2024-01-01T00:00:00Z", NULL);
    expect_sql(f, "{ things(where: {day: {gte: \"2024-01-01\"}}) { id } }",
               NULL,
               FROM " WHERE ((\"data\"->>'day')::date) >= $1::date",
               "2024-01-01", NULL);
    expect_sql(f, "{ things(where: {uid: {eq: "
               "\"5b6e8c5e-5f27-4d52-9f0b-9f3b4d0c0a01\"}}) { id } }", NULL,
               FROM " WHERE ((\"data\"->>'uid')::uuid) = $1::uuid",
               "5b6e8c5e-5f27-4d52-9f0b-9f3b4d0c0a01", NULL);
    /* a view's id is its id column: its index, its type */
    expect_sql(f, "{ things(where: {id: {eq: 5}}) { id } }", NULL,
               FROM " WHERE \"id\" = $1", "5", NULL);
    expect_sql(f, "{ things(where: {id: {in: [1, \"2\"]}}) { id } }", NULL,
               FROM " WHERE (\"id\" = ANY($1))", "{\"1\",\"2\"}", NULL);
    /* a nested object's id is in the JSON: text, as the other IDs */
    expect_sql(f, "{ things(where: {parent: {id: {eq: 5}}}) { id } }", NULL,
               FROM " WHERE (((\"data\"->'parent'->>'id')) = $1)", "5",
               NULL);
}


static void
test_in_nin_isnull(void **state)
{
    fixture_t  *f = *state;

    expect_sql(f, "{ things(where: {name: {in: [\"a\", \"b\\\"c\", "
               "\"d\\\\e\"]}}) { id } }", NULL,
               FROM " WHERE (((\"data\"->>'name')) = ANY($1::text[]))",
               "{\"a\",\"b\\\"c\",\"d\\\\e\"}", NULL);
    expect_sql(f, "{ things(where: {score: {nin: [1, 2]}}) { id } }", NULL,
               FROM " WHERE NOT (((\"data\"->>'score')::numeric) = "
               "ANY($1::numeric[]))", "{\"1\",\"2\"}", NULL);
    expect_sql(f, "{ things(where: {score: {in: 3}}) { id } }", NULL,
               FROM " WHERE (((\"data\"->>'score')::numeric) = "
               "ANY($1::numeric[]))", "{\"3\"}", NULL);
    expect_sql(f, "{ things(where: {name: {in: []}}) { id } }", NULL,
               FROM " WHERE (((\"data\"->>'name')) = ANY($1::text[]))",
               "{}", NULL);
    expect_sql(f, "{ things(where: {name: {isnull: true}}) { id } }", NULL,
               FROM " WHERE ((((\"data\"->>'name')) IS NULL) = "
               "$1::boolean)", "true", NULL);
    expect_sql(f, "{ things(where: {name: {isnull: false}}) { id } }", NULL,
               FROM " WHERE ((((\"data\"->>'name')) IS NULL) = "
               "$1::boolean)", "false", NULL);
}


static void
test_string_operators(void **state)
{
    fixture_t  *f = *state;

#define NAME  "((\"data\"->>'name'))"

    expect_sql(f, "{ things(where: {name: {contains: \"a%b_c\\\\d\"}}) "
               "{ id } }", NULL, FROM " WHERE " NAME " LIKE $1",
               "%a\\%b\\_c\\\\d%", NULL);
    expect_sql(f, "{ things(where: {name: {icontains: \"x\"}}) { id } }",
               NULL, FROM " WHERE " NAME " ILIKE $1", "%x%", NULL);
    expect_sql(f, "{ things(where: {name: {startswith: \"x\"}}) { id } }",
               NULL, FROM " WHERE " NAME " LIKE $1", "x%", NULL);
    expect_sql(f, "{ things(where: {name: {istartswith: \"x\"}}) { id } }",
               NULL, FROM " WHERE " NAME " ILIKE $1", "x%", NULL);
    expect_sql(f, "{ things(where: {name: {endswith: \"x\"}}) { id } }",
               NULL, FROM " WHERE " NAME " LIKE $1", "%x", NULL);
    expect_sql(f, "{ things(where: {name: {iendswith: \"_\"}}) { id } }",
               NULL, FROM " WHERE " NAME " ILIKE $1", "%\\_", NULL);
    expect_sql(f, "{ things(where: {name: {like: \"a%\"}}) { id } }",
               NULL, FROM " WHERE " NAME " LIKE $1", "a%", NULL);
    expect_sql(f, "{ things(where: {name: {ilike: \"a_\"}}) { id } }",
               NULL, FROM " WHERE " NAME " ILIKE $1", "a_", NULL);
    expect_sql(f, "{ things(where: {name: {matches: \"^a\"}}) { id } }",
               NULL, FROM " WHERE " NAME " ~ $1", "^a", NULL);
    expect_sql(f, "{ things(where: {name: {imatches: \"^a\"}}) { id } }",
               NULL, FROM " WHERE " NAME " ~* $1", "^a", NULL);
    expect_sql(f, "{ things(where: {name: {not_matches: \"^a\"}}) "
               "{ id } }", NULL, FROM " WHERE " NAME " !~ $1", "^a", NULL);
    expect_sql(f, "{ things(where: {name: {notin: [\"a\"]}}) { id } }",
               NULL, FROM " WHERE NOT (" NAME " = ANY($1::text[]))",
               "{\"a\"}", NULL);
    expect_sql(f, "{ things(where: {status: {contains: \"x\"}}) { id } }",
               NULL, FROM " WHERE \"status\" LIKE $1", "%x%", NULL);

#undef NAME

    /* string operators are for strings only */
    expect_error(f, "{ things(where: {score: {contains: 1}}) { id } }", NULL,
                 "\"contains\" is not defined by type \"IntFilter\"");
    expect_error(f, "{ things(where: {uid: {like: \"x\"}}) { id } }", NULL,
                 "\"like\" is not defined by type \"UUIDFilter\"");
    expect_error(f, "{ things(where: {code: {matches: \"A\"}}) { id } }",
                 NULL, "\"matches\" is not defined by type \"CodeFilter\"");
}


#define F(k, cast)  "((\"data\"->>'" k "')::" cast ")"

static void
test_numeric_mac_operators(void **state)
{
    fixture_t  *f = *state;

    expect_sql(f, "{ things(where: {price: {gt: \"10.50\", lte: 99}}) "
               "{ id } }", NULL,
               FROM " WHERE " F("price", "numeric") " > $1::numeric AND "
               F("price", "numeric") " <= $2::numeric", "10.50", "99", NULL);
    expect_sql(f, "{ things(where: {price: {in: [1.5, \"2\"]}}) { id } }",
               NULL, FROM " WHERE (" F("price", "numeric")
               " = ANY($1::numeric[]))", "{\"1.5\",\"2\"}", NULL);
    expect_sql(f, "{ things(where: {mac: {eq: \"08:00:2b:01:02:03\"}}) "
               "{ id } }", NULL,
               FROM " WHERE " F("mac", "macaddr") " = $1::macaddr",
               "08:00:2b:01:02:03", NULL);
    expect_sql(f, "{ things(where: {mac: {nin: [\"08-00-2b-01-02-03\"]}}) "
               "{ id } }", NULL,
               FROM " WHERE NOT (" F("mac", "macaddr")
               " = ANY($1::macaddr[]))", "{\"08-00-2b-01-02-03\"}", NULL);
    expect_sql(f, "{ things(where: {mac: {isnull: true}}) { id } }", NULL,
               FROM " WHERE ((" F("mac", "macaddr") " IS NULL) = "
               "$1::boolean)", "true", NULL);

    /* strings PostgreSQL reads as numbers become JSON numbers */
    expect_sql(f, "{ things(where: {price: {eq: \"+.5\"}}) { id } }", NULL,
               FROM " WHERE " F("price", "numeric") " = $1::numeric", "0.5",
               NULL);
    expect_sql(f, "{ things(where: {price: {eq: \"-007.e1\"}}) { id } }",
               NULL, FROM " WHERE " F("price", "numeric") " = $1::numeric",
               "-7e1", NULL);
    expect_sql(f, "{ things(where: {price: {eq: \"000\"}}) { id } }", NULL,
               FROM " WHERE " F("price", "numeric") " = $1::numeric", "0",
               NULL);

    expect_error(f, "{ things(where: {price: {eq: \"1,5\"}}) { id } }", NULL,
                 "Decimal cannot represent");
    expect_error(f, "{ things(where: {mac: {eq: \"08:00\"}}) { id } }", NULL,
                 "a MAC address");
    expect_error(f, "{ things(where: {mac: {gt: \"08:00:2b:01:02:03\"}}) "
                 "{ id } }", NULL, "Operator \"gt\" does not apply to "
                 "field \"mac\" of type MacAddress");
}


static void
test_inet_operators(void **state)
{
    fixture_t  *f = *state;

#define IP  F("ip", "inet")

    expect_sql(f, "{ things(where: {ip: {eq: \"10.0.0.1\"}}) { id } }",
               NULL, FROM " WHERE " IP " = $1::inet", "10.0.0.1", NULL);
    expect_sql(f, "{ things(where: {ip: {insubnet: \"10.0.0.0/8\"}}) "
               "{ id } }", NULL, FROM " WHERE " IP " <<= $1::inet",
               "10.0.0.0/8", NULL);
    expect_sql(f, "{ things(where: {ip: {inrange: \"::1/128\"}}) { id } }",
               NULL, FROM " WHERE " IP " <<= $1::inet", "::1/128", NULL);
    expect_sql(f, "{ things(where: {ip: {overlaps: \"192.168.0.0/16\"}}) "
               "{ id } }", NULL, FROM " WHERE " IP " && $1::inet",
               "192.168.0.0/16", NULL);
    expect_sql(f, "{ things(where: {ip: {strictleft: \"10.0.0.5\", "
               "strictright: \"10.0.0.1\"}}) { id } }", NULL,
               FROM " WHERE " IP " << $1::inet AND " IP " >> $2::inet",
               "10.0.0.5", "10.0.0.1", NULL);
    expect_sql(f, "{ things(where: {ip: {isprivate: true}}) { id } }", NULL,
               FROM " WHERE ((" IP " <<= ANY ('{10.0.0.0/8,172.16.0.0/12,"
               "192.168.0.0/16,127.0.0.0/8,169.254.0.0/16,fc00::/7,"
               "fe80::/10,::1/128}'::inet[])) = $1::boolean)", "true", NULL);
    expect_sql(f, "{ things(where: {ip: {ispublic: true}}) { id } }", NULL,
               FROM " WHERE ((" IP " <<= ANY ('{10.0.0.0/8,172.16.0.0/12,"
               "192.168.0.0/16,127.0.0.0/8,169.254.0.0/16,fc00::/7,"
               "fe80::/10,::1/128}'::inet[])) <> $1::boolean)", "true",
               NULL);
    expect_sql(f, "{ things(where: {ip: {isipv4: true, isipv6: false}}) "
               "{ id } }", NULL,
               FROM " WHERE ((family(" IP ") = 4) = $1::boolean) AND "
               "((family(" IP ") = 6) = $2::boolean)", "true", "false", NULL);

#undef IP

    expect_error(f, "{ things(where: {ip: {eq: \"10.0.0.256\"}}) { id } }",
                 NULL, "an IPv4 or IPv6 address");
    expect_error(f, "{ things(where: {ip: {eq: \"10.0.0.0/33\"}}) { id } }",
                 NULL, "an IPv4 or IPv6 address");
    expect_error(f, "{ things(where: {ip: {contains: \"10\"}}) { id } }",
                 NULL, "Operator \"contains\" does not apply to field \"ip\"");
    expect_error(f, "{ things(where: {name: {insubnet: \"10.0.0.0/8\"}}) "
                 "{ id } }", NULL, "Operator \"insubnet\" does not apply to "
                 "field \"name\" of type String");
}


static void
test_range_ltree_operators(void **state)
{
    fixture_t  *f = *state;

#define R  F("period", "daterange")
#define L  F("path", "ltree")

    expect_sql(f, "{ things(where: {period: {contains_date: \"2024-01-05\"}})"
               " { id } }", NULL, FROM " WHERE " R " @> $1::date",
               "2024-01-05", NULL);
    expect_sql(f, "{ things(where: {period: {overlaps: "
               "\"[2024-01-01,2024-02-01)\", adjacent: \"[2024-02-01,)\"}}) "
               "{ id } }", NULL,
               FROM " WHERE " R " && $1::daterange AND " R
               " -|- $2::daterange", "[2024-01-01,2024-02-01)",
               "[2024-02-01,)", NULL);
    expect_sql(f, "{ things(where: {period: {strictly_left: \"empty\", "
               "strictly_right: \"(,2024-01-01]\", not_left: \"[,)\", "
               "not_right: \"[,)\"}}) { id } }", NULL,
               FROM " WHERE " R " << $1::daterange AND " R " >> "
               "$2::daterange AND " R " &> $3::daterange AND " R
               " &< $4::daterange", "empty", "(,2024-01-01]", "[,)", "[,)",
               NULL);

    expect_sql(f, "{ things(where: {path: {ancestor_of: \"a.b.c\", "
               "descendant_of: \"a\"}}) { id } }", NULL,
               FROM " WHERE " L " @> $1::ltree AND " L " <@ $2::ltree",
               "a.b.c", "a", NULL);
    expect_sql(f, "{ things(where: {path: {matches_lquery: \"*.b.*\", "
               "matches_ltxtquery: \"b & c\"}}) { id } }", NULL,
               FROM " WHERE " L " ~ $1::lquery AND " L " @ $2::ltxtquery",
               "*.b.*", "b & c", NULL);
    expect_sql(f, "{ things(where: {path: {matches_any_lquery: "
               "[\"a.*\", \"*.z\"]}}) { id } }", NULL,
               FROM " WHERE " L " ? $1::lquery[]", "{\"a.*\",\"*.z\"}",
               NULL);
    expect_sql(f, "{ things(where: {path: {depth_eq: 2, depth_neq: 3, "
               "depth_gt: 1, depth_gte: 1, depth_lt: 9, depth_lte: 9}}) "
               "{ id } }", NULL,
               FROM " WHERE nlevel(" L ") = $1::integer AND nlevel(" L
               ") <> $2::integer AND nlevel(" L ") > $3::integer AND nlevel("
               L ") >= $4::integer AND nlevel(" L ") < $5::integer AND "
               "nlevel(" L ") <= $6::integer", "2", "3", "1", "1", "9", "9",
               NULL);

#undef R
#undef L

    expect_error(f, "{ things(where: {path: {eq: \"a..b\"}}) { id } }", NULL,
                 "a label path");
    expect_error(f, "{ things(where: {period: {eq: \"2024\"}}) { id } }",
                 NULL, "a date range");
    expect_error(f, "{ things(where: {period: {contains_date: \"x\"}}) "
                 "{ id } }", NULL, "a date (YYYY-MM-DD)");
    expect_error(f, "{ things(where: {path: {depth_eq: \"2\"}}) { id } }",
                 NULL, "Int cannot represent");
}


static void
test_text_json_operators(void **state)
{
    fixture_t  *f = *state;

#define T  F("body", "tsvector")
#define J  "NULLIF(\"data\"->'meta', 'null')"

    expect_sql(f, "{ things(where: {body: {matches: \"fox & dog\", "
               "plain_query: \"fox dog\"}}) { id } }", NULL,
               FROM " WHERE " T " @@ to_tsquery($1) AND " T
               " @@ plainto_tsquery($2)", "fox & dog", "fox dog", NULL);
    expect_sql(f, "{ things(where: {body: {phrase_query: \"a b\", "
               "websearch_query: \"a -b\"}}) { id } }", NULL,
               FROM " WHERE " T " @@ phraseto_tsquery($1) AND " T
               " @@ websearch_to_tsquery($2)", "a b", "a -b", NULL);
    expect_sql(f, "{ things(where: {body: {rank_gt: {threshold: 0.1, "
               "query: \"fox\"}, rank_lt: {query: \"dog\", threshold: 1}}})"
               " { id } }", NULL,
               FROM " WHERE ts_rank(" T ", to_tsquery($1)) > $2::real AND "
               "ts_rank(" T ", to_tsquery($3)) < $4::real", "fox", "0.1",
               "dog", "1", NULL);
    expect_sql(f, "{ things(where: {search: {websearch_query: \"x\"}}) "
               "{ id } }", NULL,
               FROM " WHERE \"search\" @@ websearch_to_tsquery($1)", "x",
               NULL);

    expect_sql(f, "{ things(where: {meta: {contains: {a: 1}}}) { id } }",
               NULL, FROM " WHERE " J " @> $1::jsonb", "{\"a\":1}", NULL);
    expect_sql(f, "{ things(where: {meta: {strictly_contains: [1]}}) "
               "{ id } }", NULL,
               FROM " WHERE (" J " @> $1::jsonb AND " J " <> $1::jsonb)",
               "[1]", NULL);
    expect_sql(f, "{ things(where: {meta: {overlaps: [\"a\", \"b\"], "
               "has_key: \"c'\"}}) { id } }", NULL,
               FROM " WHERE " J " ?| $1::text[] AND " J " ? $2",
               "{\"a\",\"b\"}", "c'", NULL);

#undef T
#undef J

    expect_error(f, "{ things(where: {body: {rank_gt: {query: \"x\"}}}) "
                 "{ id } }", NULL, "threshold");
}


static void
test_vector_point_operators(void **state)
{
    fixture_t         *f = *state;
    fql_errors_t       errs;
    fql_root_plan_t   *rp;

#define V  F("embedding", "vector")
#define P  F("place", "point")

    expect_sql(f, "{ things(where: {embedding: {cosine_distance: "
               "{vector: [1, 0.5], threshold: 0.2}}}) { id } }", NULL,
               FROM " WHERE (" V " <=> $1::vector) < $2::float8",
               "[1,0.5]", "0.2", NULL);
    expect_sql(f, "{ things(where: {embedding: {l2_distance: "
               "{threshold: 3, vector: [1]}, l1_distance: {vector: [2], "
               "threshold: 4}}}) { id } }", NULL,
               FROM " WHERE (" V " <-> $1::vector) < $2::float8 AND (" V
               " <+> $3::vector) < $4::float8", "[1]", "3", "[2]", "4",
               NULL);
    expect_sql(f, "{ things(where: {embedding: {eq: [1, 2]}}) { id } }",
               NULL, FROM " WHERE " V " = $1::vector", "[1,2]", NULL);

    rp = compile(f, "{ things(where: {embedding: {eq: [1]}}) { id } }",
                 NULL, &errs);
    assert_non_null(rp);
    assert_true(rp->uses_vector);

    expect_sql(f, "{ things(where: {place: {distance_within: "
               "{lat: 48.85, lng: 2.35, meters: 1000}}}) { id } }", NULL,
               FROM " WHERE (2 * 6371008.8 * asin(sqrt(power(sin(radians(("
               P ")[1] - $1::float8) / 2), 2) + cos(radians($1::float8)) * "
               "cos(radians((" P ")[1])) * power(sin(radians((" P ")[0] - "
               "$2::float8) / 2), 2))) <= $3::float8)", "48.85", "2.35",
               "1000", NULL);

#undef V
#undef P

    expect_error(f, "{ things(where: {embedding: {eq: [\"a\"]}}) { id } }",
                 NULL, "a vector is a non-empty list of numbers");
    expect_error(f, "{ things(where: {place: {eq: \"(1,2)\"}}) { id } }",
                 NULL, "Operator \"eq\" does not apply to field \"place\"");
    expect_error(f, "{ things(orderBy: [{place: ASC}]) { id } }", NULL,
                 "\"place\" is not defined by type \"ThingOrderByInput\"");
}


static void
test_array_operators(void **state)
{
    fixture_t  *f = *state;

#define A  "NULLIF(\"data\"->'tags', 'null')"
#define G  "(CASE jsonb_typeof(" A ") WHEN 'array' THEN " A " END)"
#define A2 "NULLIF(\"data\"->'scores', 'null')"
#define G2 "(CASE jsonb_typeof(" A2 ") WHEN 'array' THEN " A2 " END)"

    expect_sql(f, "{ things(where: {tags: {eq: [\"a\", \"b\"], "
               "neq: []}}) { id } }", NULL,
               FROM " WHERE " A " = $1::jsonb AND " A " <> $2::jsonb",
               "[\"a\",\"b\"]", "[]", NULL);
    expect_sql(f, "{ things(where: {tags: {contains: [\"a\"], "
               "contained_by: [\"a\", \"b\"]}}) { id } }", NULL,
               FROM " WHERE " A " @> $1::jsonb AND " A " <@ $2::jsonb",
               "[\"a\"]", "[\"a\",\"b\"]", NULL);
    expect_sql(f, "{ things(where: {tags: {overlaps: [\"x\"]}}) { id } }",
               NULL, FROM " WHERE EXISTS (SELECT FROM jsonb_array_elements("
               G ") AS x(v) WHERE $1::jsonb @> jsonb_build_array(x.v))",
               "[\"x\"]", NULL);
    expect_sql(f, "{ things(where: {tags: {len_eq: 1, len_neq: 2, "
               "len_gt: 0, len_gte: 1, len_lt: 5, len_lte: 4}}) { id } }",
               NULL,
               FROM " WHERE jsonb_array_length(" G ") = $1::integer AND "
               "jsonb_array_length(" G ") <> $2::integer AND "
               "jsonb_array_length(" G ") > $3::integer AND "
               "jsonb_array_length(" G ") >= $4::integer AND "
               "jsonb_array_length(" G ") < $5::integer AND "
               "jsonb_array_length(" G ") <= $6::integer",
               "1", "2", "0", "1", "5", "4", NULL);
    expect_sql(f, "{ things(where: {tags: {any_eq: \"a\\\"\"}}) { id } }",
               NULL, FROM " WHERE " A " @> jsonb_build_array($1::jsonb)",
               "\"a\\\"\"", NULL);
    expect_sql(f, "{ things(where: {scores: {all_eq: 3}}) { id } }", NULL,
               FROM " WHERE (jsonb_array_length(" G2 ") > 0 AND NOT EXISTS "
               "(SELECT FROM jsonb_array_elements(" G2 ") AS x(v) WHERE "
               "x.v <> $1::jsonb))",
               "3", NULL);
    expect_sql(f, "{ things(where: {tags: {isnull: true}}) { id } }", NULL,
               FROM " WHERE ((" A " IS NULL) = $1::boolean)", "true", NULL);

#undef A
#undef G
#undef A2
#undef G2

    expect_error(f, "{ things(where: {tags: {len_eq: \"1\"}}) { id } }", NULL,
                 "Int cannot represent");
    expect_error(f, "{ things(where: {tags: {startswith: \"a\"}}) { id } }",
                 NULL, "Operator \"startswith\" does not apply to field "
                 "\"tags\" of type [String!]");
    expect_error(f, "{ things(orderBy: [{tags: ASC}]) { id } }", NULL,
                 "\"tags\" is not defined by type \"ThingOrderByInput\"");
}


static void
test_nested_fields(void **state)
{
    fixture_t  *f = *state;

    expect_sql(f, "{ things(where: {author: {lastName: {eq: \"x\"}}}) "
               "{ id } }", NULL,
               FROM " WHERE (((\"data\"->'author'->>'last_name')) = $1)",
               "x", NULL);
    expect_sql(f, "{ things(where: {author: {firstName: {eq: \"a\"}, "
               "OR: [{lastName: {eq: \"b\"}}, {lastName: {isnull: true}}]},"
               " status: {eq: \"on\"}}) { id } }", NULL,
               FROM " WHERE (((\"data\"->'author'->>'first_name')) = $1 AND "
               "((((\"data\"->'author'->>'last_name')) = $2) OR "
               "(((((\"data\"->'author'->>'last_name')) IS NULL) = "
               "$3::boolean)))) AND \"status\" = $4",
               "a", "b", "true", "on", NULL);
    expect_sql(f, "{ things(where: {author: {}}) { id } }", NULL, FROM,
               NULL);
    expect_sql(f, "{ things(orderBy: [{author: {lastName: ASC, "
               "firstName: DESC}}, {score: DESC}]) { id } }", NULL,
               FROM " ORDER BY ((\"data\"->'author'->>'last_name')) ASC, "
               "((\"data\"->'author'->>'first_name')) DESC, "
               "((\"data\"->>'score')::numeric) DESC", NULL);
}

#undef F


static void
test_columns(void **state)
{
    fixture_t  *f = *state;

    expect_sql(f, "{ things(where: {status: {eq: \"on\"}}) { id } }", NULL,
               FROM " WHERE \"status\" = $1", "on", NULL);
    expect_sql(f, "{ things(where: {status: {in: [\"a\"]}}) { id } }", NULL,
               FROM " WHERE (\"status\" = ANY($1))", "{\"a\"}",
               NULL);
    expect_sql(f, "{ things(where: {tenantId: {eq: "
               "\"5b6e8c5e-5f27-4d52-9f0b-9f3b4d0c0a01\"}},"
               " orderBy: [{tenantId: DESC}]) { id } }", NULL,
               FROM " WHERE \"tenant\" = $1 ORDER BY \"tenant\" DESC",
               "5b6e8c5e-5f27-4d52-9f0b-9f3b4d0c0a01", NULL);
}


static void
test_logic(void **state)
{
    fixture_t  *f = *state;

    expect_sql(f, "{ things(where: {OR: [{score: {eq: 1}}, "
               "{name: {eq: \"x\"}}], NOT: {flag: {eq: false}}}) { id } }",
               NULL,
               FROM " WHERE ((((\"data\"->>'score')::numeric) = "
               "$1::numeric) OR (((\"data\"->>'name')) = $2)) AND NOT "
               "(((\"data\"->>'flag')::boolean) = $3::boolean)",
               "1", "x", "false", NULL);
    expect_sql(f, "{ things(where: {AND: [{score: {eq: 1}}, {}]}) { id } }",
               NULL,
               FROM " WHERE ((((\"data\"->>'score')::numeric) = "
               "$1::numeric) AND (TRUE))", "1", NULL);
    expect_sql(f, "{ things(where: {OR: [], name: null, score: "
               "{eq: null}}) { id } }", NULL, FROM, NULL);
}


static void
test_order(void **state)
{
    expect_sql(*state, "{ things(orderBy: [{score: DESC}, {name: ASC}]) "
               "{ id } }", NULL,
               FROM " ORDER BY ((\"data\"->>'score')::numeric) DESC, "
               "((\"data\"->>'name')) ASC", NULL);
    expect_sql(*state, "{ things(orderBy: {when: ASC}) { id } }", NULL,
               FROM " ORDER BY ((\"data\"->>'when')::timestamptz) ASC",
               NULL);
    /* by id: the id column, in its own type, through the key's index */
    expect_sql(*state, "{ things(orderBy: [{id: DESC}], limit: 3) { id } }",
               NULL, FROM " ORDER BY \"id\" DESC LIMIT $1::bigint", "3", NULL);
    /* an ID in the JSON orders as a JSON value: numbers as numbers */
    expect_sql(*state, "{ things(orderBy: {parent: {id: ASC}}) { id } }",
               NULL,
               FROM " ORDER BY NULLIF(\"data\"->'parent'->'id', 'null') ASC",
               NULL);
}


static void
test_variables(void **state)
{
    fixture_t  *f = *state;

    expect_sql(f, "query ($w: ThingWhereInput, $n: Int = 3) "
               "{ things(where: $w, limit: $n) { id } }",
               "{\"w\": {\"name\": {\"in\": \"solo\"}}}",
               FROM " WHERE (((\"data\"->>'name')) = ANY($1::text[]))"
               " LIMIT $2::bigint", "{\"solo\"}", "3", NULL);
    expect_sql(f, "query ($n: Int) { things(limit: $n) { id } }",
               "{\"n\": 1.0}", FROM " LIMIT $1::bigint", "1", NULL);
    expect_sql(f, "query ($n: Int) { things(limit: $n) { id } }", "{}",
               FROM, NULL);
}


static void
test_projection(void **state)
{
    fql_errors_t      errs;
    fql_root_plan_t  *rp;
    fql_proj_t       *p;

    rp = compile(*state, "{ things { x: id author { lastName __typename } "
                 "...F ... on Thing { name } id } } "
                 "fragment F on Thing { tags name }", NULL, &errs);
    assert_non_null(rp);

    p = rp->proj;
    assert_int_equal(p->nfields, 5);
    assert_true(fql_str_eqz(p->fields[0].out_key, "x"));
    assert_true(fql_str_eqz(p->fields[0].json_key, "id"));
    assert_int_equal(p->fields[0].scalar, FQL_SCALAR_ID);
    assert_int_equal(p->fields[0].non_null_mask, 1);
    assert_true(fql_str_eqz(p->fields[1].out_key, "author"));
    assert_int_equal(p->fields[1].kind, FQL_PF_OBJECT);
    assert_true(fql_str_eqz(p->fields[1].sub->fields[0].json_key,
                            "last_name"));
    assert_int_equal(p->fields[1].sub->fields[1].kind, FQL_PF_TYPENAME);
    assert_true(fql_str_eqz(p->fields[1].sub->type_name, "Author"));
    assert_true(fql_str_eqz(p->fields[2].out_key, "tags"));
    assert_int_equal(p->fields[2].list_depth, 1);
    assert_int_equal(p->fields[2].non_null_mask, 2);
    assert_true(fql_str_eqz(p->fields[3].out_key, "name"));
    assert_true(fql_str_eqz(p->fields[4].out_key, "id"));
}


static void
test_errors(void **state)
{
    fixture_t  *f = *state;

    expect_error(f, "{ nope }", NULL, "Cannot query field \"nope\"");
    expect_error(f, "{ things { nope } }", NULL,
                 "Cannot query field \"nope\" on type \"Thing\"");
    expect_error(f, "{ things }", NULL, "must have a selection");
    expect_error(f, "{ things { id { a } } }", NULL, "must not have");
    expect_error(f, "{ things(where: {score: {eq: \"x\"}}) { id } }", NULL,
                 "Expected value of type \"Int\"");
    expect_error(f, "{ things(where: {score: {eq: 2147483648}}) { id } }",
                 NULL, "32-bit");
    expect_error(f, "{ things(where: {flag: {lt: true}}) { id } }", NULL,
                 "\"lt\" is not defined by type \"BooleanFilter\"");
    expect_error(f, "{ things(where: {uid: {eq: \"nope\"}}) { id } }", NULL,
                 "a UUID");
    expect_error(f, "{ things(where: {day: {eq: \"2024-1-1\"}}) { id } }",
                 NULL, "a date");
    expect_error(f, "{ things(where: {author: {eq: 1}}) { id } }", NULL,
                 "\"eq\" is not defined by type \"AuthorWhereInput\"");
    expect_error(f, "{ thing { id } }", NULL, "is required");
    expect_error(f, "{ thing(id: null) { id } }", NULL, "null");
    expect_error(f, "query ($x: Int) { things(limit: $x) { id } }",
                 "{\"x\": \"1\"}", "Int cannot represent");
    expect_error(f, "query ($x: Code) { things(where: {code: {eq: $x}})"
                 " { id } }", "{\"x\": \"Z\"}", "not a value of the enum");
    expect_error(f, "query ($x: ThingWhereInput) { things(where: $x) "
                 "{ id } }", "{\"x\": {\"zz\": 1}}",
                 "\"zz\" is not defined");
    expect_error(f, "query ($x: Int) { __typename }", NULL,
                 "Variable \"$x\" is never used.");
    expect_error(f, "query ($x: Int) { thing(id: $x) { id } }", NULL,
                 "of type \"Int\" used in position expecting type "
                 "\"ID!\"");
    expect_error(f, "{ things { id @skip(if: true) @skip(if: false) } }",
                 NULL, "can only be used once");
    expect_error(f, "query @skip(if: true) { __typename }", NULL,
                 "may not be used on QUERY");
    expect_error(f, "{ a: things(limit: 1) { id } a: things(limit: 2) "
                 "{ id } }", NULL, "differing arguments");
    expect_error(f, "{ things { id } } fragment U on Thing { id }", NULL,
                 "Fragment \"U\" is never used.");
    expect_error(f, "query A { __typename } { __typename }", NULL,
                 "anonymous operation must be the only");
    expect_error(f, "query A { things { nope } } query B { __typename }",
                 NULL, "Cannot query field \"nope\"");
    expect_error(f, "{ things { nope @skip(if: true) } }", NULL,
                 "Cannot query field \"nope\"");
    expect_error(f, "query A { __typename } query A { __typename }", NULL,
                 "only one operation named \"A\"");
    expect_error(f, "{ things(limit: -2) { id } }", NULL, "negative");
    expect_error(f, "{ a: things { id } a: thing(id: 1) { id } }", NULL,
                 "conflict");
    expect_error(f, "{ things { ...A } } fragment A on Thing { ...B } "
                 "fragment B on Thing { ...A }", NULL, "within itself");
}


#define FN  "SELECT \"data\" FROM \"app\".\"fn_search\""

/* query functions: arguments by name, nulls, lists on top, one object */
static void
test_query_functions(void **state)
{
    expect_sql(*state, "{ searchThings(q: \"x'; DROP TABLE t; --\") { id } }",
               NULL, FN "(\"q\" => $1)", "x'; DROP TABLE t; --", NULL);

    /* in the schema's order, snake_case, each a parameter */
    expect_sql(*state, "{ searchThings(code: B, minScore: 3, q: \"a\","
               " day: \"2024-01-02\", meta: {k: [1]}) { id } }", NULL,
               FN "(\"q\" => $1, \"min_score\" => $2, \"day\" => $3,"
               " \"code\" => $4, \"meta\" => $5)",
               "a", "3", "2024-01-02", "B", "{\"k\":[1]}", NULL);

    /* null is SQL NULL; left out, the function's DEFAULT applies */
    expect_sql(*state, "{ searchThings(q: \"a\", minScore: null,"
               " meta: null) { id } }", NULL,
               FN "(\"q\" => $1, \"min_score\" => $2, \"meta\" => $3)",
               "a", "<NULL>", "<NULL>", NULL);
    expect_sql(*state, "query ($m: Int) { searchThings(q: \"a\","
               " minScore: $m) { id } }", "{}", FN "(\"q\" => $1)", "a",
               NULL);
    expect_sql(*state, "query ($m: Int) { searchThings(q: \"a\","
               " minScore: $m) { id } }", "{\"m\": null}",
               FN "(\"q\" => $1, \"min_score\" => $2)", "a", "<NULL>",
               NULL);

    /* where, orderBy, limit and offset on top, as for a view */
    expect_sql(*state, "{ searchThings(q: \"a\", where: {score: {gt: 1}},"
               " orderBy: [{id: DESC}], limit: 2, offset: 1) { id } }",
               NULL, FN "(\"q\" => $1) WHERE ((\"data\"->>'score')"
               "::numeric) > $2::numeric ORDER BY \"id\" DESC"
               " LIMIT $3::bigint OFFSET $4::bigint",
               "a", "1", "2", "1", NULL);

    expect_sql(*state, "{ thingByName(name: \"\\\\ \\\"\") { id } }", NULL,
               "SELECT \"data\" FROM \"fn_by_name\"(\"name\" => $1)"
               " LIMIT 1", "\\ \"", NULL);

    expect_error(*state, "{ searchThings { id } }", NULL,
                 "argument \"q\" of type \"String!\" is required");
    expect_error(*state, "{ searchThings(q: 1) { id } }", NULL,
                 "String cannot represent");
    expect_error(*state, "{ searchThings(q: \"a\", minScore: \"x\")"
                 " { id } }", NULL, "Int cannot represent");
    expect_error(*state, "{ searchThings(q: \"a\", limit: -1) { id } }",
                 NULL, "must not be negative");
}


/* a plan from the cache, bound to new variables, is a fresh compile's */
static void
cached_as_fresh(fixture_t *f, fql_cache_t *c, const char *query,
    const char *vars, int hit)
{
    unsigned             i;
    fql_plan_t          *plan;
    fql_arena_t         *a;
    fql_errors_t         errs;
    fql_request_t        req;
    fql_root_plan_t     *fresh;
    fql_cache_result_t   res;

    fresh = compile(f, query, vars, &errs);
    assert_non_null(fresh);

    a = fql_arena_heap_create();
    fql_errors_init(&errs, a);
    memset(&req, 0, sizeof(req));
    req.variables = fql_json_parse(a, vars, strlen(vars), &errs);
    req.query.data = query;
    req.query.len = strlen(query);

    assert_int_equal(fql_cache_plan(c, a, &f->eng, &req, &plan, &errs,
                                    &res), 0);
    assert_int_equal(res.hit, hit);
    assert_string_equal(plan->roots->sql, fresh->sql);
    assert_int_equal(plan->roots->nparams, fresh->nparams);

    for (i = 0; i < fresh->nparams; i++) {
        if (fresh->params[i] == NULL) {
            assert_null(plan->roots->params[i]);
        } else {
            assert_string_equal(plan->roots->params[i], fresh->params[i]);
        }
    }

    fql_cache_release(res.entry);
    fql_arena_heap_destroy(a);
}


static void
test_query_function_cached(void **state)
{
    fql_cache_t  *c;
    const char   *q = "query ($q: String!, $m: Int, $w: ThingWhereInput,"
                      " $l: Int) { searchThings(q: $q, minScore: $m,"
                      " where: $w, limit: $l) { id name } }";

    c = fql_cache_create(8, 0);
    assert_non_null(c);

    cached_as_fresh(*state, c, q, "{\"q\": \"a\", \"m\": 1, \"l\": 5}", 0);
    cached_as_fresh(*state, c, q, "{\"q\": \"'; --\", \"m\": 7, \"l\": 1}",
                    1);
    /* null, then left out: shapes of their own, other SQL */
    cached_as_fresh(*state, c, q, "{\"q\": \"b\", \"m\": null}", 0);
    cached_as_fresh(*state, c, q, "{\"q\": \"c\", \"m\": null}", 1);
    cached_as_fresh(*state, c, q, "{\"q\": \"d\"}", 0);
    cached_as_fresh(*state, c, q, "{\"q\": \"e\"}", 1);
    cached_as_fresh(*state, c, q, "{\"q\": \"f\", \"m\": 2,"
                    " \"w\": {\"name\": {\"eq\": \"z\"}}}", 0);
    cached_as_fresh(*state, c, q, "{\"q\": \"g\", \"m\": 3,"
                    " \"w\": {\"name\": {\"eq\": \"y\"}}}", 1);

    fql_cache_destroy(c);
}


/* cursors of Thing's orderings: base64url of [print, keys..., id] */
#define CURSOR_ID          "WzcwNTY2MTg5LCA1XQ"            /* id 5 */
#define CURSOR_SCORE_DESC  "WzE1MzcxMjc0NDgsIDcsIDNd"      /* 7, id 3 */
#define CURSOR_SCORE_NULL  "WzE1MzcxMjc0NDgsIG51bGwsIDld"  /* null, 9 */

/* one statement, keyset conditions on the keys, never OFFSET */
static void
test_connection(void **state)
{
    fql_errors_t      errs;
    fql_root_plan_t  *rp;

    rp = compile(*state, "{ thingsConnection(first: 2, after: \""
                 CURSOR_ID "\") { edges { node { id } } } }", NULL, &errs);
    assert_non_null(rp);
    assert_int_equal(rp->kind, FQL_RF_OBJECT);
    assert_non_null(strstr(rp->sql, " WHERE \"id\" > $2 ORDER BY \"id\""
                           " ASC LIMIT $1::bigint + 1) SELECT "));
    assert_null(strstr(rp->sql, "OFFSET"));
    /* no cursor, no count unless selected */
    assert_null(strstr(rp->sql, "base64"));
    assert_null(strstr(rp->sql, "count(*) FROM \"app\""));
    assert_string_equal(rp->params[0], "2");
    assert_string_equal(rp->params[1], "5");

    /* last: the keys reversed; a null key value is SQL NULL */
    rp = compile(*state, "{ thingsConnection(last: 3, before: \""
                 CURSOR_SCORE_NULL "\", orderBy: {score: DESC}) { totalCount"
                 " edges { cursor } } }", NULL, &errs);
    assert_non_null(rp);
    assert_non_null(strstr(rp->sql, "ORDER BY ((\"data\"->>'score')"
                           "::numeric) ASC, \"id\" DESC LIMIT"));
    assert_non_null(strstr(rp->sql, "count(*) FROM \"app\".\"v_thing\""));
    assert_non_null(strstr(rp->sql, "base64"));
    assert_null(rp->params[1]);
    assert_string_equal(rp->params[2], "9");

    expect_error(*state, "{ thingsConnection(first: 1, last: 1) { nodes"
                 " { id } } }", NULL, "Passing both \"first\" and \"last\"");
    expect_error(*state, "{ thingsConnection(first: -1) { nodes { id } } }",
                 NULL, "\"first\" must not be negative");
    expect_error(*state, "{ thingsConnection(last: 10001) { nodes { id } } }",
                 NULL, "\"last\" is 10001, over the maximum of 10000");
    /* not base64url, not JSON, another ordering's, a wrong key type */
    expect_error(*state, "{ thingsConnection(after: \"a+b=\") { nodes"
                 " { id } } }", NULL, "Invalid cursor \"after\"");
    expect_error(*state, "{ thingsConnection(after: \"eyJh\") { nodes"
                 " { id } } }", NULL, "Invalid cursor \"after\"");
    expect_error(*state, "{ thingsConnection(before: \"" CURSOR_ID "\","
                 " orderBy: {score: DESC}) { nodes { id } } }", NULL,
                 "Invalid cursor \"before\"");
    expect_error(*state, "{ thingsConnection(after: \""
                 "WzcwNTY2MTg5LCBbMV1d\") { nodes { id } } }", NULL,
                 "Invalid cursor");
}


/* a cached plan refills cursor keys and page sizes, and refuses bad ones */
static void
test_connection_cached(void **state)
{
    fql_cache_t        *c;
    fql_arena_t        *a;
    fql_plan_t         *plan;
    fql_errors_t        errs;
    fql_request_t       req;
    fql_cache_result_t  res;
    const char         *q = "query ($a: String, $n: Int) { thingsConnection("
                            "first: $n, after: $a, orderBy: [{score: DESC}])"
                            " { edges { cursor node { id } } pageInfo {"
                            " hasNextPage hasPreviousPage } } }";
    const char         *bad = "{\"n\": 1, \"a\": \"" CURSOR_ID "\"}";

    c = fql_cache_create(8, 0);
    assert_non_null(c);

    cached_as_fresh(*state, c, q, "{\"n\": 2}", 0);
    cached_as_fresh(*state, c, q, "{\"n\": 2, \"a\": \""
                    CURSOR_SCORE_DESC "\"}", 0);
    cached_as_fresh(*state, c, q, "{\"n\": 5, \"a\": \""
                    CURSOR_SCORE_NULL "\"}", 1);

    /* the cursor of another ordering, bound to the cached plan */
    a = fql_arena_heap_create();
    fql_errors_init(&errs, a);
    memset(&req, 0, sizeof(req));
    req.variables = fql_json_parse(a, bad, strlen(bad), &errs);
    req.query.data = q;
    req.query.len = strlen(q);

    assert_int_equal(fql_cache_plan(c, a, &((fixture_t *) *state)->eng, &req,
                                    &plan, &errs, &res), -1);
    assert_non_null(strstr(errs.head->message, "Invalid cursor \"after\""));
    assert_string_equal(errs.head->code, FQL_CODE_BAD_INPUT);

    fql_cache_release(res.entry);
    fql_arena_heap_destroy(a);
    fql_cache_destroy(c);
}


static void
test_aggregate(void **state)
{
    expect_sql(*state, "{ thingsAggregate(where: {score: {gt: 1}}) { count"
               " m: max { score } } }", NULL,
               "SELECT (json_build_object('count', count(*), 'm',"
               " (json_build_object('score', max(((\"data\"->>'score')"
               "::numeric)))))) FROM \"app\".\"v_thing\" WHERE (((\"data\""
               "->>'score')::numeric) > $1::numeric)", "1", NULL);

    /* groups alone read the view in their subquery only */
    expect_sql(*state, "{ thingsAggregate { groupBy(fields: [status, status],"
               " limit: 3) { key { status } count } } }", NULL,
               "SELECT (json_build_object('groupBy', (SELECT COALESCE("
               "json_agg(\"j\" ORDER BY \"k0\"), '[]') FROM (SELECT"
               " (json_build_object('key', (json_build_object('status',"
               " \"status\")), 'count', count(*))) AS \"j\", \"status\""
               " AS \"k0\" FROM \"app\".\"v_thing\" GROUP BY \"status\""
               " ORDER BY \"status\" LIMIT $1::bigint) AS \"g\")))", "3",
               NULL);

    expect_error(*state, "{ thingsAggregate { groupBy(fields: [flag]) {"
                 " key { code } } } }", NULL, "\"code\" is not a key");
    expect_error(*state, "{ thingsAggregate { groupBy(fields: [flag],"
                 " limit: 20000) { count } } }", NULL, "over the maximum");
}


static void
schema_error(const char *text, const char *fragment)
{
    fql_arena_t        *a;
    fql_schema_t       *s;
    fql_parse_error_t   err;

    a = fql_arena_heap_create();

    assert_int_equal(fql_schema_build(a, text, strlen(text), &s, &err), -1);
    if (strstr(err.message, fragment) == NULL) {
        fail_msg("\"%s\" not in \"%s\"", fragment, err.message);
    }

    fql_arena_heap_destroy(a);
}


static void
test_schema_errors(void **state)
{
    (void) state;

    schema_error("type Query { a: Nope }", "Unknown type \"Nope\"");
    schema_error("type Query { a: Int }", "must return an object type");
    schema_error("type T { a: Int } type Query { t: T }",
                 "bound to a view");
    schema_error("type T @view(name: \"v\") { a: Int } "
                 "type Query { t: T }", "exactly one argument");
    schema_error("type T @view(name: \"v\") { a: Int } "
                 "type Query { t(x: Int): [T] }", "not \"x\"");
    schema_error("type T @view(name: \"v\\\"x\") { a: Int } "
                 "type Query { t: [T] }", "not a valid SQL identifier");
    schema_error("type T @view { a: Int } type Query { t: [T] }",
                 "argument \"name\" of type \"String!\" is required");
    schema_error("type T { a: Int a: Int } type Query { t: T }",
                 "only be defined once");
    schema_error("type T { a: Int } type T { b: Int }",
                 "only one type named");
    schema_error("input TWhereInput { a: Int } "
                 "type T @view(name: \"v\") { a: Int } "
                 "type Query { t: [T] }", "is generated");
    schema_error("type Query { a: Int", "Expected");
    schema_error("type A { a: Int }", "no Query type");
    schema_error("query { a }", "type definitions only");

    /* query functions */
    schema_error("type Query { a(x: Int): Int @function(name: \"f\") }",
                 "must return an object type");
    schema_error("type T @view(name: \"v\") { a: Int } input I { b: Int }"
                 " type Query { t(i: I): [T] @function(name: \"f\") }",
                 "argument \"i\" must be a scalar or an enum");
    schema_error("type T @view(name: \"v\") { a: Int }"
                 " type Query { t(i: [Int]): T @function(name: \"f\") }",
                 "argument \"i\" must be a scalar or an enum");
    schema_error("type T @view(name: \"v\") { a: Int }"
                 " type Query { t(limit: Int): T @function(name: \"f\") }",
                 "\"limit\" is reserved for lists");
    schema_error("type T @view(name: \"v\") { a: Int }"
                 " type Query { t(where: Int): [T] @function(name: \"f\") }",
                 "\"where\" is reserved for lists");
}


static void
test_snake_case(void **state)
{
    fql_arena_t  *a = fql_arena_heap_create();
    fql_str_t     in, out;

    (void) state;

#define SNAKE(from, to)                                                       \
    in.data = from; in.len = strlen(from);                                    \
    out = fql_snake_case(a, in);                                              \
    assert_string_equal(out.data, to)

    SNAKE("firstName", "first_name");
    SNAKE("ipAddressV4", "ip_address_v4");
    SNAKE("id", "id");
    SNAKE("_private", "_private");
    SNAKE("Name", "name");
    SNAKE("already_snake", "already_snake");

    fql_arena_heap_destroy(a);
}


/* what a hostile document can make the compiler do is bounded */
static void
test_limits(void **state)
{
    fixture_t             *f = *state;
    char                  *doc;
    size_t                 n;
    unsigned               i;
    fql_plan_t            *plan;
    fql_errors_t           errs;
    fql_error_t           *e;
    fql_compile_limits_t   limits;

    memset(&limits, 0, sizeof(limits));
    limits.max_root_fields = 3;
    limits.max_conditions = 3;

    /* root fields: counted once merged */
    assert_int_equal(compile_limited(f, "{ a: things { id } b: things { id }"
                                     " c: things { id } c: things { id } }",
                                     NULL, &limits, &plan, &errs), 0);
    assert_int_equal(plan->nroots, 3);
    expect_limit(f, "{ a: things { id } b: things { id } c: things { id } "
                 "...F } fragment F on Query { d: things { id } }", NULL,
                 &limits, "root fields");

    /* conditions: each operator and each arm */
    assert_int_equal(compile_limited(f, "{ things(where: {name: {eq: \"a\"},"
                                     " OR: [{score: {gt: 1}}]}) { id } }",
                                     NULL, &limits, &plan, &errs), 0);
    expect_limit(f, "{ things(where: {name: {eq: \"a\"}, OR: [{score: "
                 "{gt: 1}}, {flag: {eq: true}}]}) { id } }", NULL, &limits,
                 "conditions");
    expect_limit(f, "query ($w: ThingWhereInput) { things(where: $w) "
                 "{ id } }", "{\"w\": {\"NOT\": {\"name\": {\"eq\": \"a\","
                 " \"neq\": \"b\", \"isnull\": false}}}}", &limits,
                 "conditions");

    /* introspection answers: past max_static, refused */
    memset(&limits, 0, sizeof(limits));
    limits.max_static = 100;
    assert_int_equal(compile_limited(f, "{ __schema { queryType { name } } }",
                                     NULL, &limits, &plan, &errs), 0);
    expect_limit(f, "{ __schema { types { name fields { name } } } }", NULL,
                 &limits, "introspection");

    /* a selection set of more than 1,000 fields */
    doc = malloc(20000);
    assert_non_null(doc);
    n = snprintf(doc, 20000, "{ things {");
    for (i = 0; i < 1001; i++) {
        n += snprintf(doc + n, 20000 - n, " a%u: id", i);
    }
    snprintf(doc + n, 20000 - n, " } }");
    expect_limit(f, doc, NULL, NULL, "1000 fields");

    /* 150 unknown fields: 100 errors and "Too many errors" */
    n = snprintf(doc, 20000, "{ things {");
    for (i = 0; i < 150; i++) {
        n += snprintf(doc + n, 20000 - n, " f%u", i);
    }
    snprintf(doc + n, 20000 - n, " } }");
    assert_int_equal(compile_limited(f, doc, NULL, NULL, &plan, &errs), -1);
    assert_int_equal(errs.count, FQL_ERRORS_MAX + 1);
    for (e = errs.head; e->next; e = e->next) { /* void */ }
    assert_non_null(strstr(e->message, "Too many errors"));
    free(doc);

    /* 1e400 is no Float */
    expect_error(f, "{ things(where: {ratio: {gt: 1e400}}) { id } }", NULL,
                 "non-finite");
    expect_error(f, "query ($r: Float) { things(where: {ratio: {gt: $r}}) "
                 "{ id } }", "{\"r\": 1e400}", "non-finite");
}


/* a variable used many times: one parameter, bound once */
static void
test_shared_variable(void **state)
{
    expect_sql(*state, "query ($l: [String!]) { things(where: {OR: "
               "[{name: {in: $l}}, {name: {in: $l}}, {name: {nin: $l}}]})"
               " { id } }", "{\"l\": [\"a\", \"b\"]}",
               FROM " WHERE (((((\"data\"->>'name')) = ANY($1::text[])))"
               " OR ((((\"data\"->>'name')) = ANY($1::text[])))"
               " OR (NOT (((\"data\"->>'name')) = ANY($1::text[]))))",
               "{\"a\",\"b\"}", NULL);

    /* compared with another field (a column here, JSON text there): a
     * parameter of its own, since $n takes the type of its first use */
    expect_sql(*state, "query ($u: UUID) { things(where: {OR: "
               "[{tenantId: {eq: $u}}, {uid: {eq: $u}}, {uid: {neq: $u}}]})"
               " { id } }", "{\"u\": \"5b6e8c5e-5f27-4d52-9f0b-9f3b4d0c0a01\"}",
               FROM " WHERE ((\"tenant\" = $1)"
               " OR (((\"data\"->>'uid')::uuid) = $2::uuid)"
               " OR (((\"data\"->>'uid')::uuid) <> $2::uuid))",
               "5b6e8c5e-5f27-4d52-9f0b-9f3b4d0c0a01",
               "5b6e8c5e-5f27-4d52-9f0b-9f3b4d0c0a01", NULL);

    /* the same field, its column at the top, JSON text nested */
    expect_sql(*state, "query ($u: UUID) { things(where: {OR: "
               "[{tenantId: {eq: $u}}, {parent: {tenantId: {eq: $u}}}]})"
               " { id } }", "{\"u\": \"5b6e8c5e-5f27-4d52-9f0b-9f3b4d0c0a01\"}",
               FROM " WHERE ((\"tenant\" = $1)"
               " OR ((((\"data\"->'parent'->>'tenant_id')::uuid) = $2::uuid)))",
               "5b6e8c5e-5f27-4d52-9f0b-9f3b4d0c0a01",
               "5b6e8c5e-5f27-4d52-9f0b-9f3b4d0c0a01", NULL);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_by_id),
        cmocka_unit_test(test_list_plain),
        cmocka_unit_test(test_query_functions),
        cmocka_unit_test(test_query_function_cached),
        cmocka_unit_test(test_operators_per_type),
        cmocka_unit_test(test_in_nin_isnull),
        cmocka_unit_test(test_string_operators),
        cmocka_unit_test(test_numeric_mac_operators),
        cmocka_unit_test(test_inet_operators),
        cmocka_unit_test(test_range_ltree_operators),
        cmocka_unit_test(test_text_json_operators),
        cmocka_unit_test(test_vector_point_operators),
        cmocka_unit_test(test_array_operators),
        cmocka_unit_test(test_nested_fields),
        cmocka_unit_test(test_columns),
        cmocka_unit_test(test_logic),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_variables),
        cmocka_unit_test(test_projection),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_shared_variable),
        cmocka_unit_test(test_schema_errors),
        cmocka_unit_test(test_connection),
        cmocka_unit_test(test_connection_cached),
        cmocka_unit_test(test_aggregate),
        cmocka_unit_test(test_snake_case),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
