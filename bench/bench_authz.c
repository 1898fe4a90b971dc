/*
 * What the schema's rules cost a request in the core: fql_rule_allows on
 * a typical rule (roles any-of, permissions all-of, two scope sets, the
 * caller holding the second), and fql_plan_authorize on a compiled plan
 * whose operation meets three rules, for a caller they all let through
 * (the plan is left as it is, as for every allowed request).  Best mean
 * of several rounds, in nanoseconds per call.
 *
 * The plan comes from a schema with a role that inherits another, rules
 * on three fields and a row filter, compiled as the module compiles a
 * request; the row filter costs nothing here (its flags and claims are
 * bound when the statement's parameters are, not checked).
 *
 *   make bench   (or: gcc -O2 -Isrc/core bench/bench_authz.c
 *                     src/core/fql_*.c -lyajl -lcrypto -lm
 *                     -o build/bench_authz && build/bench_authz)
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fql_compile.h"
#include "bench.h"


#define ROUNDS  5
#define CALLS   10000000


static const char  sdl[] =
    "extend schema\n"
    "  @role(name: \"reader\")\n"
    "  @role(name: \"editor\", inherits: [\"reader\"])\n"
    "type Memo @view(name: \"v_memo\")\n"
    "    @rowFilter(roles: [\"reader\"],"
    " where: \"{ owner: { eq: $jwt.sub } }\") {\n"
    "  id: ID!\n"
    "  owner: String\n"
    "  title: String @auth(roles: [\"reader\"])\n"
    "  salary: Int @auth(roles: [\"editor\"],"
    " permissions: [\"memo:read\"])\n"
    "  note: String @auth(scopes: [[\"pii:read\", \"hr\"], [\"notes\"]])\n"
    "}\n"
    "type Query {\n"
    "  memo(id: ID!): Memo\n"
    "}\n";

static const char  doc[] =
    "{ memo(id: \"1\") { id owner title salary note } }";

static const char  claims[] =
    "{\"sub\": \"u1\", \"role\": \"editor\","
    " \"permissions\": [\"memo:read\"], \"scope\": \"notes\"}";


static void
die(const char *what, const char *msg)
{
    fprintf(stderr, "%s: %s\n", what, msg);
    exit(1);
}


static uint64_t
bit(const fql_names_t *names, const char *name)
{
    uint64_t  b;

    b = fql_auth_bit(names, name, strlen(name));
    if (b == 0) {
        die("no such name", name);
    }

    return b;
}


int
main(void)
{
    int                 i, r;
    long                n;
    double              t0, dt, best;
    unsigned            nneeds;
    uint64_t            scopes[2];
    fql_arena_t        *a;
    fql_plan_t         *plan, *p;
    fql_rule_t          rule;
    fql_caller_t        caller;
    fql_schema_t       *schema;
    fql_errors_t        errs;
    fql_document_t     *d;
    fql_jval_t         *cl;
    const fql_need_t   *nd;
    const fql_authz_t  *az;
    fql_parse_error_t   perr;
    fql_engine_t        eng = { .compile = { .max_depth = 30 } };
    fql_request_t       req;

    a = fql_arena_heap_create();
    fql_errors_init(&errs, a);

    if (fql_schema_build(a, sdl, sizeof(sdl) - 1, &schema, &perr) != 0) {
        die("schema", perr.message);
    }

    az = &schema->authz;

    /* the caller as the module finds it from the claims above */
    memset(&caller, 0, sizeof(caller));
    caller.roles = fql_auth_role(az, "editor", 6);
    caller.perms = bit(&az->perms, "memo:read");
    caller.scopes = bit(&az->scopes, "notes");
    caller.authenticated = 1;

    /* a typical rule, the schema's names: the caller holds every part
     * of it, the scopes by the second set, so that all of it is read */
    scopes[0] = bit(&az->scopes, "pii:read") | bit(&az->scopes, "hr");
    scopes[1] = bit(&az->scopes, "notes");
    memset(&rule, 0, sizeof(rule));
    rule.roles = bit(&az->roles, "reader") | bit(&az->roles, "editor");
    rule.has_roles = 1;
    rule.perms = caller.perms;
    rule.scopes = scopes;
    rule.nscopes = 2;
    rule.authenticated = 1;

    /* the request's plan, compiled as the module compiles one */
    cl = fql_json_parse(a, claims, sizeof(claims) - 1, &errs);
    if (cl == NULL) {
        die("claims", "not parsed");
    }

    memset(&req, 0, sizeof(req));
    req.claims = cl;
    req.caller = &caller;
    eng.schema = schema;

    if (fql_parse_document(a, doc, sizeof(doc) - 1, NULL, &d, &perr) != 0) {
        die("document", perr.message);
    }

    if (fql_compile(a, &eng, d, &req, &plan, &errs) != 0) {
        die("compile", errs.head->message);
    }

    for (nneeds = 0, nd = plan->needs; nd; nd = nd->next) {
        nneeds++;
    }

    if (nneeds != 3) {
        fprintf(stderr, "the plan has %u rules, not 3\n", nneeds);
        return 1;
    }

    printf("%-44s %10s\n", "check", "ns/call");

    /* fql_rule_allows is in another object file: each call is made */
    best = 1e9;
    for (r = 0; r < ROUNDS; r++) {
        n = 0;
        t0 = now_us();

        for (i = 0; i < CALLS; i++) {
            n += fql_rule_allows(&rule, &caller);
        }

        dt = (now_us() - t0) * 1e3 / CALLS;
        if (n != CALLS) {
            die("fql_rule_allows", "the rule does not hold");
        }

        if (dt < best) {
            best = dt;
        }
    }

    printf("%-44s %10.2f\n", "fql_rule_allows, a typical rule", best);

    best = 1e9;
    for (r = 0; r < ROUNDS; r++) {
        t0 = now_us();

        for (i = 0; i < CALLS; i++) {
            p = plan;
            if (fql_plan_authorize(a, &p, &caller, 0, &errs) != 0
                || p != plan)
            {
                die("fql_plan_authorize", "refused");
            }
        }

        dt = (now_us() - t0) * 1e3 / CALLS;
        if (dt < best) {
            best = dt;
        }
    }

    printf("%-44s %10.2f\n", "fql_plan_authorize, 3 rules (per request)",
           best);

    fql_arena_heap_destroy(a);

    return 0;
}
