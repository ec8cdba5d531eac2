#!/usr/bin/env bash
# The kubectl-inject pull-request gate: lint the changed repository against
# its base commit and report only what the change adds, as SARIF (for code
# scanning), GitHub annotations on the PR lines, and a job summary with the
# findings and the blast radius (the workloads whose injection changes).
#
# Environment (what .github/actions/gate/action.yml passes from its inputs):
#   INPUT_PATHS         files/directories, space or newline separated (.)
#   INPUT_BASE_REF      the base commit (a SHA or a ref); empty: no base, the
#                       whole repository is gated (e.g. a push, not a PR)
#   INPUT_FAIL_ON       error | warning | info | never (error)
#   INPUT_CONFIG        a .kubectl-inject.yaml (default: found from the
#                       current directory upward)
#   INPUT_SARIF_FILE    where to write SARIF (${RUNNER_TEMP:-/tmp}/kubectl-inject.sarif)
#   INPUT_BLAST_RADIUS  true | false (true): append `kubectl-inject diff` to
#                       the job summary
#   KUBECTL_INJECT      the binary (kubectl-inject, from PATH)
#   GITHUB_STEP_SUMMARY, GITHUB_OUTPUT  set by the runner
#
# Exit code: the lint's (0 nothing new at or above INPUT_FAIL_ON, 1 new
# findings), 2 when any step could not do its job. It is written to
# GITHUB_OUTPUT as exit-code=N; when GITHUB_OUTPUT is set the script itself
# exits 0 (the action's last step fails the job), otherwise it exits with N,
# so it can be run locally:
#   INPUT_BASE_REF=origin/main bash .github/actions/gate/gate.sh
set -euo pipefail

bin=${KUBECTL_INJECT:-kubectl-inject}
base=${INPUT_BASE_REF:-}
fail_on=${INPUT_FAIL_ON:-error}
config=${INPUT_CONFIG:-}
sarif=${INPUT_SARIF_FILE:-${RUNNER_TEMP:-/tmp}/kubectl-inject.sarif}
blast_radius=${INPUT_BLAST_RADIUS:-true}
summary=${GITHUB_STEP_SUMMARY:-}
rm -f "$sarif" # never upload a stale report

# INPUT_PATHS: words separated by spaces or newlines; no glob expansion.
paths=()
while IFS= read -r line || [[ -n $line ]]; do
    read -r -a words <<<"$line"
    if [[ ${#words[@]} -gt 0 ]]; then
        paths+=("${words[@]}")
    fi
done <<<"${INPUT_PATHS:-.}"
if [[ ${#paths[@]} -eq 0 ]]; then
    paths=(.)
fi

worst=0 # 2 once any step could not do its job
lint_code=0

finish() {
    local code=$1 verdict=$2
    if [[ -n ${GITHUB_OUTPUT:-} ]]; then
        {
            echo "exit-code=$code"
            if [[ -s $sarif ]]; then
                echo "sarif-file=$sarif"
            else
                echo "sarif-file="
            fi
        } >>"$GITHUB_OUTPUT"
    fi
    if [[ $code -ge 2 && -n $summary ]]; then
        printf '\n## kubectl-inject gate\n\n**The gate could not do its job** (exit code %s): %s. See the log of the gate step.\n' \
            "$code" "$verdict" >>"$summary"
    fi
    echo "kubectl-inject gate: $verdict (exit code $code)"
    if [[ -n ${GITHUB_OUTPUT:-} ]]; then
        exit 0
    fi
    exit "$code"
}

# --- the base commit -------------------------------------------------------
base_args=()
if [[ -z $base ]]; then
    echo "::notice title=kubectl-inject::no base ref (not a pull request?): gating the whole repository, not only what a change adds"
else
    if [[ $base == -* ]]; then
        echo "::error title=kubectl-inject::base-ref must be a commit or a ref, got $base"
        finish 2 "tool failure: bad base-ref"
    fi
    if ! git rev-parse --git-dir >/dev/null 2>&1; then
        echo "::error title=kubectl-inject::$(pwd) is not a Git repository; check out the repository (actions/checkout) before the gate"
        finish 2 "tool failure: no Git repository"
    fi
    resolved=$(git rev-parse --verify --quiet "$base^{commit}" || true)
    if [[ -z $resolved ]]; then
        echo "The base commit $base is not in the local clone; fetching it from origin"
        if git fetch --no-tags --depth=1 origin "$base"; then
            resolved=$(git rev-parse --verify --quiet "FETCH_HEAD^{commit}" || true)
        fi
    fi
    if [[ -z $resolved ]]; then
        echo "::error title=kubectl-inject::the base commit $base is not in the clone and could not be fetched from origin. Check out with \`fetch-depth: 0\` (actions/checkout) or fetch the base commit before the gate (git fetch --depth=1 origin $base)."
        finish 2 "tool failure: base commit $base unavailable"
    fi
    base=$resolved
    base_args=(--base "$base")
    echo "Gating against the base commit $base"
fi

common=()
if [[ -n $config ]]; then
    common+=(--config "$config")
fi

# (a) SARIF for code scanning; the log gets the human report.
mkdir -p "$(dirname "$sarif")"
echo "::group::kubectl-inject lint (SARIF to $sarif)"
sarif_code=0
"$bin" lint "${paths[@]}" ${base_args[@]+"${base_args[@]}"} ${common[@]+"${common[@]}"} \
    --format sarif --output-file "$sarif" --fail-on never || sarif_code=$?
echo "::endgroup::"
if [[ $sarif_code -ne 0 ]]; then
    echo "::error title=kubectl-inject::lint --format sarif exited with $sarif_code"
    worst=2
fi

# (b) annotations on the lines the change adds findings to, and the findings
# summary in GITHUB_STEP_SUMMARY; its exit code is the gate's.
lint_code=0
"$bin" lint "${paths[@]}" ${base_args[@]+"${base_args[@]}"} ${common[@]+"${common[@]}"} \
    --format github --fail-on "$fail_on" || lint_code=$?
if [[ $lint_code -ge 2 ]]; then
    worst=2
fi

# (c) the blast radius: the workloads whose injection decision, template or
# injected pod the change alters, appended to the job summary.
if [[ $blast_radius == true && -z $base ]]; then
    echo "No blast radius without a base commit."
elif [[ $blast_radius == true ]]; then
    radius=$(mktemp)
    diff_code=0
    "$bin" diff "${base_args[@]}" "${paths[@]}" ${common[@]+"${common[@]}"} \
        --format markdown >"$radius" || diff_code=$?
    if [[ $diff_code -ne 0 ]]; then
        echo "::error title=kubectl-inject::diff (blast radius) exited with $diff_code"
        worst=2
    elif [[ -n $summary ]]; then
        {
            echo
            cat "$radius"
        } >>"$summary"
        echo "::group::kubectl-inject diff (blast radius, also in the job summary)"
        cat "$radius"
        echo "::endgroup::"
    else
        cat "$radius"
    fi
    rm -f "$radius"
fi

if [[ -n $base ]]; then
    found="new findings (against $base)"
else
    found="findings (whole repository)"
fi
if [[ $worst -eq 2 ]]; then
    finish 2 "tool failure: a kubectl-inject run exited with an error"
elif [[ $fail_on == never ]]; then
    finish 0 "passed: fail-on is never ($found are reported, none fails the job)"
elif [[ $lint_code -eq 0 ]]; then
    finish 0 "passed: no $found at or above $fail_on"
else
    finish "$lint_code" "failed: $found at or above $fail_on"
fi
