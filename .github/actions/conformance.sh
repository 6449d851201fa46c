#!/usr/bin/env bash
# The logic of the gigamcp-conformance GitHub Action (action.yml at the repository root).
# CI runs this same script against `gigamcp serve --demo` (cargo xtask conformance), so the
# action is tested without GitHub.
#
# Inputs (environment):
#   GIGAMCP_URL               the MCP URL to check (required)
#   INPUT_PROFILE             chatgpt | claude | strict (default chatgpt)
#   INPUT_SPEC                protocol revision or auto (default auto)
#   INPUT_LOGIN               none | form | browser | command (default none)
#   INPUT_USERNAME            for --login form
#   GIGAMCP_PASSWORD          for --login form (a secret: read by the harness from the env)
#   INPUT_LOGIN_SCRIPT        for --login browser (a file; secrets it reads come from the env)
#   INPUT_SECOND_RESOURCE     another resource on the same deployment
#   INPUT_ARGS                more `run` options, split on whitespace
#   OUT_DIR                   where reports go (default ./gigamcp-conformance)
#   HARNESS                   a built gigamcp-conformance; without it the script builds one
# Outputs: OUT_DIR/{report.sarif,junit.xml,report.md,report.html,report.json,exit-code};
# `exit-code` and `report-dir` in $GITHUB_OUTPUT and the Markdown report in
# $GITHUB_STEP_SUMMARY when GitHub provides them. Exits with the harness's exit code
# (0 every MUST holds, 1 a failure, 2 could not complete).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
url="${GIGAMCP_URL:-}"
if [ -z "$url" ]; then
  echo "::error::the action needs the url input (GIGAMCP_URL)" >&2
  exit 2
fi
out="${OUT_DIR:-$PWD/gigamcp-conformance}"
mkdir -p "$out"

harness="${HARNESS:-}"
if [ -z "$harness" ]; then
  echo "building gigamcp-conformance (release)…" >&2
  (cd "$here" && cargo build --release --locked -p gigamcp-conformance --bin gigamcp-conformance) || exit 2
  harness="${CARGO_TARGET_DIR:-$here/target}/release/gigamcp-conformance"
fi
if [ ! -x "$harness" ]; then
  echo "::error::no harness at $harness" >&2
  exit 2
fi

args=(run "$url" --profile "${INPUT_PROFILE:-chatgpt}" --spec "${INPUT_SPEC:-auto}")
case "${INPUT_LOGIN:-none}" in
  none|"") ;;
  form)
    [ -n "${INPUT_USERNAME:-}" ] || { echo "::error::login form needs the username input" >&2; exit 2; }
    args+=(--login form --username "$INPUT_USERNAME") ;;
  browser)
    [ -n "${INPUT_LOGIN_SCRIPT:-}" ] || { echo "::error::login browser needs the login-script input" >&2; exit 2; }
    args+=(--login browser --login-script "$INPUT_LOGIN_SCRIPT") ;;
  command)
    args+=(--login command --login-command "${INPUT_LOGIN_COMMAND:?login command needs the login-command input}") ;;
  *) echo "::error::unknown login ${INPUT_LOGIN} (none, form, browser, command)" >&2; exit 2 ;;
esac
if [ -n "${INPUT_SECOND_RESOURCE:-}" ]; then
  args+=(--second-resource "$INPUT_SECOND_RESOURCE")
fi
if [ -n "${INPUT_ARGS:-}" ]; then
  # shellcheck disable=SC2206 # deliberate word splitting of extra options
  extra=(${INPUT_ARGS})
  args+=("${extra[@]}")
fi
args+=(--report "sarif=$out/report.sarif" --report "junit=$out/junit.xml"
       --report "md=$out/report.md" --report "html=$out/report.html" --report "json=$out/report.json")

"$harness" "${args[@]}"
code=$?
echo "$code" > "$out/exit-code"
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  { echo "exit-code=$code"; echo "report-dir=$out"; } >> "$GITHUB_OUTPUT"
fi
if [ -n "${GITHUB_STEP_SUMMARY:-}" ] && [ -f "$out/report.md" ]; then
  cat "$out/report.md" >> "$GITHUB_STEP_SUMMARY"
fi
case "$code" in
  0) echo "gigamcp-conformance: every MUST holds" >&2 ;;
  1) echo "::error::gigamcp-conformance: a MUST fails (see the SARIF alerts and $out/report.html)" >&2 ;;
  *) echo "::error::gigamcp-conformance: the run could not complete (exit $code)" >&2 ;;
esac
exit "$code"
