// Validates KEDA objects against KEDA's own schema (the @kubernetes-models/keda package, generated
// from KEDA's CRDs). Reads a JSON array of objects on stdin; prints one line per object; exit 1 if any
// is invalid.   node tests/deploy/validate_keda.mjs < objects.json
import { readFileSync } from "node:fs";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject";
import { TriggerAuthentication } from "@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication";

const kinds = { ScaledObject, TriggerAuthentication };
let failed = 0;
for (const object of JSON.parse(readFileSync(0, "utf8"))) {
  const Model = kinds[object.kind];
  try {
    if (!Model) throw new Error(`no schema for kind ${object.kind}`);
    new Model(object).validate();
    console.log(`ok ${object.kind}/${object.metadata.name}`);
  } catch (error) {
    failed += 1;
    console.log(`invalid ${object.kind}/${object.metadata?.name}: ${error.message}`);
  }
}
process.exit(failed ? 1 : 0);
