// Validate Argo CD / Flux / Prometheus Operator objects (a JSON array on stdin) against the published CRD schemas.
// Prints one line per object: "ok <kind>/<name>" or "invalid <kind>/<name>: <reason>"; exit 1 if any is invalid.
"use strict";
const { Application, AppProject } = require("@kubernetes-models/argo-cd/argoproj.io/v1alpha1");
const { GitRepository } = require("@kubernetes-models/flux-cd/source.toolkit.fluxcd.io/v1");
const { Kustomization } = require("@kubernetes-models/flux-cd/kustomize.toolkit.fluxcd.io/v1");
const { Provider, Alert } = require("@kubernetes-models/flux-cd/notification.toolkit.fluxcd.io/v1beta3");

const MODELS = {
  "argoproj.io/v1alpha1/Application": Application,
  "argoproj.io/v1alpha1/AppProject": AppProject,
  "source.toolkit.fluxcd.io/v1/GitRepository": GitRepository,
  "kustomize.toolkit.fluxcd.io/v1/Kustomization": Kustomization,
  "notification.toolkit.fluxcd.io/v1beta3/Provider": Provider,
  "notification.toolkit.fluxcd.io/v1beta3/Alert": Alert,
};

async function main() {
  // @kubernetes-models/prometheus-operator 6 is ES-module only: loaded with import().
  const { PrometheusRule, ServiceMonitor } = await import(
    "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1"
  );
  MODELS["monitoring.coreos.com/v1/PrometheusRule"] = PrometheusRule;
  MODELS["monitoring.coreos.com/v1/ServiceMonitor"] = ServiceMonitor;
  const docs = JSON.parse(require("fs").readFileSync(0, "utf8"));
  let bad = 0;
  for (const doc of docs) {
    const label = `${doc.kind}/${(doc.metadata || {}).name}`;
    const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
    if (!Model) {
      console.log(`invalid ${label}: no schema for ${doc.apiVersion} ${doc.kind}`);
      bad += 1;
      continue;
    }
    try {
      new Model(doc).validate();
      console.log(`ok ${label}`);
    } catch (err) {
      console.log(`invalid ${label}: ${String(err.message || err).replace(/\s+/g, " ")}`);
      bad += 1;
    }
  }
  process.exit(bad ? 1 : 0);
}
main();
