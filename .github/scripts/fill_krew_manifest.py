#!/usr/bin/env python3
"""Fill krew-manifest.yaml in for a release tag.

    fill_krew_manifest.py --tag vX.Y.Z --dist DIR [--manifest krew-manifest.yaml]
                          [--out DIR/krew-manifest.yaml]

Rewrites `spec.version` to the tag, every platform `uri` to the tag's release
archive (kubectl-inject-<tag>-<target>.tar.gz / .zip) and every `sha256` to the
digest of that archive in DIR. Fails (exit 1, message on stderr) when an
archive is missing, when a sha256 line comes before its uri, or when the
feedfacecafebeef... placeholder is left anywhere. Writes the result to --out
and prints it. Used by .github/workflows/release.yml; tests/krew_fill.rs runs
it on fake archives.
"""

import argparse
import hashlib
import pathlib
import re
import sys

PLACEHOLDER = "feedfacecafebeef" * 4
VERSION = re.compile(r"^  version: ")
URI = re.compile(
    r"^(\s*uri: )(.*/download/)[^/]+/kubectl-inject-v.*?-((?:x86_64|aarch64)-[^/]+)$"
)
SHA256 = re.compile(r"^(\s*sha256: )")


def fill(manifest: str, tag: str, dist: pathlib.Path) -> str:
    out, digest = [], None
    for line in manifest.splitlines():
        if VERSION.match(line):
            line = f"  version: {tag}"
        elif m := URI.match(line):
            rest = m.group(3)  # <target>.tar.gz or <target>.zip
            archive = f"kubectl-inject-{tag}-{rest}"
            path = dist / archive
            if not path.is_file():
                sys.exit(f"missing release archive {archive} in {dist}")
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            line = f"{m.group(1)}{m.group(2)}{tag}/{archive}"
        elif m := SHA256.match(line):
            if digest is None:
                sys.exit("a sha256 line before its uri")
            line, digest = f"{m.group(1)}{digest}", None
        out.append(line)
    text = "\n".join(out) + "\n"
    if PLACEHOLDER in text:
        sys.exit("a sha256 placeholder is left in the krew manifest")
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tag", required=True, help="the release tag, e.g. v0.1.0")
    parser.add_argument(
        "--dist", required=True, type=pathlib.Path, help="directory holding the release archives"
    )
    parser.add_argument(
        "--manifest",
        type=pathlib.Path,
        default=pathlib.Path("krew-manifest.yaml"),
        help="the manifest template (default: krew-manifest.yaml)",
    )
    parser.add_argument(
        "--out", type=pathlib.Path, help="where to write the result (default: DIST/krew-manifest.yaml)"
    )
    args = parser.parse_args()
    if not re.fullmatch(r"v\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?", args.tag):
        sys.exit(f"--tag must be a v-prefixed semantic version, got {args.tag!r}")
    if not args.dist.is_dir():
        sys.exit(f"--dist {args.dist} is not a directory")
    text = fill(args.manifest.read_text(), args.tag, args.dist)
    out = args.out or args.dist / "krew-manifest.yaml"
    out.write_text(text)
    print(text, end="")


if __name__ == "__main__":
    main()
