#!/usr/bin/env bash
# Everything the GPU machine is lent for, in one call of at most 10 minutes (see ../shared/GPU.md).
#
# Prepare on the CPU machine (ignored folders, listed in .git/info/exclude):
#   .whl/       wheels the GPU machine lacks: datasets evaluate dill multiprocess seqeval
#               transformers==5.24.0 hypothesis sortedcontainers pytest-xdist execnet
#   .gpu-data/  a copy of ../shared/data/panx (as .gpu-data/panx)
#   models/xlmr-small from `swiss-ner make-small-model`
# then run, with the device tool:
#   run(command="BUDGET=540 bash bench/gpu_session.sh", carry=[".whl", ".gpu-data",
#       "models/xlmr-small"], timeout_s=590)
# Each part has its own time limit and the parts run in order of importance; what each wrote
# comes back under $OUT.
set -u
START=$(date +%s)
BUDGET=${BUDGET:-540}
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
part() {  # part SECONDS COMMAND...: run COMMAND within SECONDS and what is left of BUDGET
  local limit=$1 left=$((BUDGET - ($(date +%s) - START)))
  shift
  [ "$left" -lt "$limit" ] && limit=$left
  if [ "$limit" -lt 20 ]; then echo "skipped (no time left): $*"; return; fi
  echo "== $(date +%T) [$limit s] $*"
  timeout "$limit" "$@"
  echo "== exit $? at $(($(date +%s) - START)) s"
}

python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export SWISS_NER_PANX_DIR=$PWD/.gpu-data/panx
python3 -c "import transformers" || rm -rf /tmp/site/transformers*  # fall back to the machine's
python3 -m pip install -q --no-deps --no-build-isolation --no-index -e .
nvidia-smi --query-gpu=name,memory.used --format=csv | tee "$OUT/gpu.txt"

BENCH="python3 bench/train_throughput.py --model models/xlmr-small --base-shape --device cuda
  --data-dir .gpu-data/panx --warmup-steps 30 --steps 150 --threads 8"
part 200 $BENCH --mixed-precision bf16 --variants trainer trainer-grouped ours ours-pack ours-compile \
  >"$OUT/bench_bf16.txt" 2>"$OUT/bench_bf16.err"
part 90 $BENCH --mixed-precision no --matmul-precision high --variants trainer ours \
  >"$OUT/bench_fp32.txt" 2>"$OUT/bench_fp32.err"
cp bench/RESULTS.md "$OUT/RESULTS.md"

python3 -c "import sys; sys.path.insert(0, 'bench'); from pathlib import Path; \
from train_throughput import base_shape_folder; base_shape_folder('models/xlmr-small', Path('/tmp/base'))"
part 150 swiss-ner train --model /tmp/base --data-dir .gpu-data/panx --train-langs de \
  --eval-langs de fr it en --num-epochs 3 --mixed-precision bf16 --report-to none \
  --output-dir /tmp/recipe >"$OUT/recipe.txt" 2>&1
cp /tmp/recipe/results.json "$OUT/recipe_results.json" 2>/dev/null

part 150 python3 -m pytest -q -p no:cacheprovider -n 12 >"$OUT/tests.txt" 2>&1

echo "===== summary"
grep -h "^| \|failed" "$OUT"/bench_*.txt
grep -ah "^epoch\|Saved" "$OUT/recipe.txt"
tail -1 "$OUT/tests.txt"
