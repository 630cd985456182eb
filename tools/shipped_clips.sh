# Sourced by tools/mix_level.sh and tools/average_and_export.sh (from the repository root): prints the path of the
# shipped model's `evaluate --per-clip` file, the base of the rule's paired digit test (tools/compare_clips.py),
# measuring models/demo once per model.onnx into ~/.cache/hark-clips when it is not there yet.
shipped_clips() {
  local c=$HOME/.cache f
  f=$c/hark-clips/demo-$(sha256sum models/demo/model.onnx | cut -c1-12).tsv
  if [ ! -f "$f" ]; then
    mkdir -p "$c/hark-clips"
    ./target/release/examples/evaluate --model models/demo --manifest "${HARK_DATA:-$c/hark-data}/manifest.tsv" \
      --eval-dir ../shared/eval/real --per-clip "$f.tmp" > "$f.eval.txt" 2>&1
    mv "$f.tmp" "$f"
  fi
  echo "$f"
}
