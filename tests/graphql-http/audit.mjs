// Runs graphql-http's GraphQL-over-HTTP audit against a running Yishi:
//   node audit.mjs http://127.0.0.1:8080/graphql
// Prints every audit; exits 1 when a MUST fails (status "error").
// SHOULD/MAY failures are printed as warnings with their reason.
import { auditServer } from 'graphql-http';

const url = process.argv[2] ?? 'http://127.0.0.1:8080/graphql';
const results = await auditServer({ url });

let errors = 0;
let warnings = 0;
for (const r of results) {
  if (r.status === 'ok') {
    console.log(`ok      ${r.name}`);
    continue;
  }
  if (r.status === 'error') errors += 1;
  else warnings += 1;
  let body = '';
  try {
    body = (await r.response.text()).slice(0, 200);
  } catch {
    // the body was already read by the audit
  }
  console.log(`${r.status.padEnd(7)} ${r.name}\n        reason: ${r.reason}${body ? `\n        body: ${body}` : ''}`);
}
const ok = results.length - errors - warnings;
console.log(`\n${ok} passed, ${errors} failed (MUST), ${warnings} warnings (SHOULD/MAY) of ${results.length}`);
process.exit(errors > 0 ? 1 : 0);
