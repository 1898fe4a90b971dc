// PostGraphile 5 as bench/suite.py runs it: the Amber preset (v5's own
// schema and naming) over the bench database's schemas public and app,
// as PostGraphile 4 is run beside it.  The suite passes the database,
// the pool size and where to listen in the environment.
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";

const env = process.env;

/** @type {GraphileConfig.Preset} */
export default {
  extends: [PostGraphileAmberPreset],
  pgServices: [
    makePgService({
      connectionString: env.BENCH_PG_URL,
      schemas: ["public", "app"],
      // the same pool size as the module's and PostGraphile 4's
      poolConfig: { max: Number(env.BENCH_POOL || 16) },
    }),
  ],
  grafserv: {
    host: env.BENCH_HOST || "127.0.0.1",
    port: Number(env.BENCH_PORT || 5678),
    graphiql: false,
    watch: false,
  },
  // no plan or SQL in the answers
  grafast: { explain: false },
};
