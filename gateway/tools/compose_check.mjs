// Composes var/supergraph/*.graphql with @theguild/federation-composition; exit 1 on errors.
// Run by `make supergraph-check` (which installs the package under var/node-compose).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "graphql";
import { composeServices } from "@theguild/federation-composition";

const dir = process.argv[2];
const services = readdirSync(dir)
  .filter((f) => f.endsWith(".graphql"))
  .sort()
  .map((f) => {
    let text = readFileSync(join(dir, f), "utf8");
    // strawberry links federation v2.10+; this composer knows up to v2.9. Our subgraphs use
    // no directive newer than 2.9, so the link is lowered (a newer import would still fail).
    text = text.replace(/specs\.apollo\.dev\/federation\/v2\.(1[0-9])/g, (m, minor) => {
      console.log(`${f}: federation v2.${minor} linked as v2.9 for this composer`);
      return "specs.apollo.dev/federation/v2.9";
    });
    const url = /^# url: (\S+)/.exec(text)?.[1] ?? "http://127.0.0.1/graphql";
    return { name: f.replace(/\.graphql$/, ""), url, typeDefs: parse(text) };
  });
const result = composeServices(services);
if (result.errors && result.errors.length) {
  for (const error of result.errors) console.error(`composition error: ${error.message}`);
  process.exit(1);
}
console.log(`composed ${services.length} subgraphs with @theguild/federation-composition: OK`);
