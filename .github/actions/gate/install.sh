#!/usr/bin/env bash
# Install a RELEASED kubectl-inject binary (never built from source) for this
# runner: download the release archive and its .sha256 from GitHub releases,
# verify the digest, extract it and put its directory on GITHUB_PATH.
#
# Environment (all optional):
#   KUBECTL_INJECT_VERSION       release tag (v0.1.0) or `latest`. When empty:
#                                KUBECTL_INJECT_ACTION_REF if it looks like v*,
#                                else the v* ref in GITHUB_ACTION_PATH
#                                (.../_actions/<owner>/<repo>/<ref>/...), else
#                                `latest`.
#   KUBECTL_INJECT_ACTION_REF    the ref the action was used at (the action
#                                passes ${{ github.action_ref }}).
#   KUBECTL_INJECT_DOWNLOAD_URL  base of the release downloads; the archive is
#                                <base>/<tag>/<archive>
#                                (https://github.com/kubectl-inject/kubectl-inject/releases/download)
#   KUBECTL_INJECT_LATEST_URL    a URL that redirects to .../<tag> of the latest
#                                release; the tag is the last path segment of
#                                where it lands
#                                (https://github.com/kubectl-inject/kubectl-inject/releases/latest,
#                                which redirects to .../releases/tag/<tag>;
#                                no API call, no token, no rate limit)
#   KUBECTL_INJECT_INSTALL_DIR   where to extract (${RUNNER_TEMP:-/tmp}/kubectl-inject)
#   KUBECTL_INJECT_TARGET        the Rust target to install, instead of the
#                                one detected from uname / RUNNER_OS / RUNNER_ARCH
#
# Archives are named as .github/workflows/release.yml makes them:
# kubectl-inject-<tag>-<target>.tar.gz (.zip on Windows), flat (kubectl-inject,
# LICENSE, README.md at the root), with <archive>.sha256 in sha256sum format.
set -euo pipefail

readonly REPO_URL=https://github.com/kubectl-inject/kubectl-inject
download_url=${KUBECTL_INJECT_DOWNLOAD_URL:-$REPO_URL/releases/download}
download_url=${download_url%/}
latest_url=${KUBECTL_INJECT_LATEST_URL:-$REPO_URL/releases/latest}
install_dir=${KUBECTL_INJECT_INSTALL_DIR:-${RUNNER_TEMP:-/tmp}/kubectl-inject}

# Messages go to stderr (the runner reads workflow commands there too), so
# that a failure inside $(...) is still shown.
fail() {
    echo "::error title=kubectl-inject install::$*" >&2
    exit 1
}

curl_get() {
    # Fails on HTTP errors; retries transient failures (timeouts, 408/429/5xx).
    curl --fail --silent --show-error --location \
        --retry 3 --retry-delay 2 --connect-timeout 20 "$@"
}

detect_target() {
    if [[ -n ${KUBECTL_INJECT_TARGET:-} ]]; then
        echo "$KUBECTL_INJECT_TARGET"
        return
    fi
    local os arch
    os=${RUNNER_OS:-$(uname -s)}
    arch=${RUNNER_ARCH:-$(uname -m)}
    case "$os" in
        Linux) os=linux ;;
        Darwin | macOS) os=darwin ;;
        Windows | MINGW* | MSYS* | CYGWIN*) os=windows ;;
        *) fail "unsupported operating system: $os" ;;
    esac
    case "$arch" in
        X64 | x86_64 | amd64) arch=x86_64 ;;
        ARM64 | aarch64 | arm64) arch=aarch64 ;;
        *) fail "unsupported architecture: $arch" ;;
    esac
    case "$os/$arch" in
        linux/x86_64) echo x86_64-unknown-linux-musl ;;
        linux/aarch64) echo aarch64-unknown-linux-musl ;;
        darwin/x86_64) echo x86_64-apple-darwin ;;
        darwin/aarch64) echo aarch64-apple-darwin ;;
        windows/x86_64) echo x86_64-pc-windows-msvc ;;
        *) fail "no released binary for $os/$arch" ;;
    esac
}

resolve_version() {
    local version=${KUBECTL_INJECT_VERSION:-}
    local ref=${KUBECTL_INJECT_ACTION_REF:-}
    if [[ -z $version && $ref == v[0-9]* ]]; then
        version=$ref
    fi
    # github.action_ref can be empty inside composite actions
    # (actions/runner#2473); the checkout path of the action still holds it.
    if [[ -z $version && ${GITHUB_ACTION_PATH:-} =~ _actions[/\\][^/\\]+[/\\][^/\\]+[/\\](v[0-9][^/\\]*) ]]; then
        version=${BASH_REMATCH[1]}
    fi
    version=${version:-latest}
    if [[ $version == latest ]]; then
        local landed
        landed=$(curl_get --output /dev/null --write-out '%{url_effective}' "$latest_url") ||
            fail "cannot resolve the latest release from $latest_url"
        landed=${landed%/}
        version=${landed##*/}
        [[ $version == v[0-9]* ]] ||
            fail "$latest_url did not lead to a release tag (landed on $landed); set the version input"
    fi
    echo "$version"
}

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d ' ' -f 1
    elif command -v shasum >/dev/null 2>&1; then
        shasum -a 256 "$1" | cut -d ' ' -f 1
    else
        fail "neither sha256sum nor shasum is available to verify the download"
    fi
}

extract() {
    local archive=$1 dest=$2
    case "$archive" in
        *.tar.gz) tar -xzf "$archive" -C "$dest" ;;
        *.zip)
            if command -v unzip >/dev/null 2>&1; then
                unzip -o -q "$archive" -d "$dest"
            elif command -v 7z >/dev/null 2>&1; then
                7z x -y "-o$dest" "$archive" >/dev/null
            else
                pwsh -NoProfile -Command "Expand-Archive -Force -Path '$archive' -DestinationPath '$dest'"
            fi
            ;;
    esac
}

target=$(detect_target)
version=$(resolve_version)
case "$target" in
    *windows*) ext=zip exe=kubectl-inject.exe ;;
    *) ext=tar.gz exe=kubectl-inject ;;
esac
archive="kubectl-inject-$version-$target.$ext"
url="$download_url/$version/$archive"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "Downloading $url"
curl_get --output "$work/$archive" "$url" || fail "cannot download $url"
curl_get --output "$work/$archive.sha256" "$url.sha256" || fail "cannot download $url.sha256"

expected=$(tr -d '\r' <"$work/$archive.sha256" | awk 'NR == 1 { print tolower($1) }')
[[ $expected =~ ^[0-9a-f]{64}$ ]] ||
    fail "$archive.sha256 does not hold a sha256 digest: $(head -c 200 "$work/$archive.sha256")"
actual=$(sha256_of "$work/$archive")
if [[ $actual != "$expected" ]]; then
    fail "sha256 mismatch for $archive: expected $expected (from $archive.sha256), got $actual; refusing to install"
fi
echo "sha256 OK: $actual  $archive"

mkdir -p "$install_dir"
extract "$work/$archive" "$install_dir"
[[ -f $install_dir/$exe ]] || fail "$archive has no $exe at its root"
chmod +x "$install_dir/$exe" 2>/dev/null || true

installed=$("$install_dir/$exe" --version) || fail "$install_dir/$exe --version failed"
echo "Installed $installed ($version, $target) to $install_dir"

path_entry=$install_dir
if command -v cygpath >/dev/null 2>&1; then
    path_entry=$(cygpath -w "$install_dir")
fi
if [[ -n ${GITHUB_PATH:-} ]]; then
    echo "$path_entry" >>"$GITHUB_PATH"
fi
if [[ -n ${GITHUB_OUTPUT:-} ]]; then
    {
        echo "version=$version"
        echo "path=$path_entry"
    } >>"$GITHUB_OUTPUT"
fi
