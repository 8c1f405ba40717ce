#!/usr/bin/env bash
# Builds the seed corpora of the fuzz targets in fuzz/corpus/<target>/ (not committed).
#
# Sources: the package's fixtures/ and, when present, ../shared/corpus and
# ../shared/sops-fixtures. Plaintext documents are copied as they are; every document
# target then re-emits the seeds it can encrypt, under the fuzzers' fixed data key, so the
# decrypt paths start from valid ciphertext too. The pkt-line target gets whole filter
# sessions (handshake, then clean and smudge requests) built around the documents.
#
# Usage: fuzz/seed.sh            (needs the fuzz targets built: `cargo fuzz build -O`)
set -euo pipefail

fuzz_dir=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$fuzz_dir")
shared="$root/../shared"
corpus="$fuzz_dir/corpus"
bins="$fuzz_dir/target/x86_64-unknown-linux-gnu/release"
max_size=65536

mkdir -p "$corpus"/{doc_yaml,doc_json,doc_dotenv,doc_ini,token,metadata,sops_config,pktline}

sources=()
[ -d "$root/fixtures" ] && sources+=("$root/fixtures")
if [ -d "$shared" ]; then
    [ -d "$shared/corpus" ] && sources+=("$shared/corpus")
    [ -d "$shared/sops-fixtures" ] && sources+=("$shared/sops-fixtures")
else
    echo "seed.sh: notice: $shared is absent; seeding from fixtures/ only" >&2
fi

# Copies a file into a corpus under a name derived from its content.
put() {
    local file=$1 target=$2
    [ "$(stat -c %s "$file")" -le "$max_size" ] || return 0
    cp "$file" "$corpus/$target/seed-$(sha1sum "$file" | cut -c1-16)"
}

if [ ${#sources[@]} -gt 0 ]; then
    while IFS= read -r -d '' f; do
        case "$f" in
            */.sops.yaml | */sops.yaml | */*.sops.yaml | */sops.*.yaml) put "$f" sops_config ;;
        esac
        case "$f" in
            *.yaml | *.yml | */yaml-test-suite/*/in.yaml) put "$f" doc_yaml ;;
            *.json) put "$f" doc_json ;;
            *.env | */.env | */.env.* | *.env.*) put "$f" doc_dotenv ;;
            *.ini) put "$f" doc_ini ;;
        esac
    done < <(find "${sources[@]}" -type f -print0)
fi

# .sops.yaml shapes sealed reads, and some YAML value seeds (aliases, tags, typing).
cat > "$corpus/sops_config/seed-rules" <<'EOF'
creation_rules:
  - path_regex: prod/.*\.yaml$
    encrypted_regex: ^(data|stringData)$
    age: age1dyfakjfehtk2evrs0uvpfyed65hd4k0ker0ynzjuqwslnd3quy2q5e4tet,age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw
  - path_regex: \.env$
    unencrypted_suffix: _plain
    mac_only_encrypted: true
    key_groups:
      - age: [age1dyfakjfehtk2evrs0uvpfyed65hd4k0ker0ynzjuqwslnd3quy2q5e4tet]
    shamir_threshold: 1
  - age: &k ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN
    unencrypted_comment_regex: !!str sops:nocrypt
EOF
printf 'a: &a [x, y]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\nn: 0x1F\no: 0o17\nf: .inf\nt: !!int "12"\n' \
    > "$corpus/sops_config/seed-values"

# Tokens and metadata blocks from every encrypted file.
if [ ${#sources[@]} -gt 0 ]; then
    find "${sources[@]}" -type f -size -256k -print0 |
        xargs -0 grep -ohE 'ENC\[AES256_GCM,data:[^]]*\]' 2>/dev/null |
        sort -u | head -n 200 | while IFS= read -r t; do
        printf '%s' "$t" > "$corpus/token/seed-$(printf '%s' "$t" | sha1sum | cut -c1-16)"
    done
    find "${sources[@]}" -type f \( -name '*.json' -o -name '*.yaml' -o -name '*.yml' \) -size -256k -print0 |
        xargs -0 grep -l 'lastmodified' 2>/dev/null |
        python3 -c '
import json, sys, hashlib, pathlib
out = pathlib.Path(sys.argv[1])
try:
    import yaml
except ImportError:
    yaml = None
for name in sys.stdin.read().split("\n"):
    if not name:
        continue
    try:
        text = open(name, encoding="utf-8").read()
        docs = [json.loads(text)] if name.endswith(".json") else (list(yaml.safe_load_all(text)) if yaml else [])
    except Exception:
        continue
    for d in docs:
        if isinstance(d, dict) and isinstance(d.get("sops"), dict):
            blob = json.dumps(d["sops"], default=str).encode()
            (out / ("seed-" + hashlib.sha1(blob).hexdigest()[:16])).write_bytes(blob)
' "$corpus/metadata"
fi
printf 'ENC[AES256_GCM,data:AA==,iv:%s,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]' \
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" > "$corpus/token/seed-synthetic"
printf 'int\0-42' > "$corpus/token/seed-int"
printf 'float\0+Inf' > "$corpus/token/seed-float"

# Ciphertext under the fuzzers' fixed key: each document target encrypts what it can of
# its seeds (SEALED_FUZZ_EMIT), and the results join its corpus.
for t in doc_yaml doc_json doc_dotenv doc_ini; do
    if [ ! -x "$bins/$t" ]; then
        echo "seed.sh: $bins/$t not built; run 'RUSTC_BOOTSTRAP=1 cargo fuzz build -O' first" >&2
        exit 1
    fi
    emit=$(mktemp -d)
    mkdir -p "$emit/out"
    (cd "$emit" && SEALED_FUZZ_EMIT="$emit/out" "$bins/$t" -runs=0 -artifact_prefix="$emit/" "$corpus/$t" > /dev/null 2>&1) || true
    find "$emit/out" -type f -size -${max_size}c -exec cp {} "$corpus/$t/" \;
    rm -rf "$emit"
done

# Filter sessions: handshake, then one clean and one smudge request per document.
python3 - "$corpus" "$root" <<'EOF'
import hashlib, pathlib, sys
corpus, root = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
def pkt(b):
    return b"%04x" % (len(b) + 4) + b
def text(s):
    return pkt(s.encode() + b"\n")
FLUSH = b"0000"
def session(requests):
    out = text("git-filter-client") + text("version=2") + FLUSH
    out += text("capability=clean") + text("capability=smudge") + text("capability=delay") + FLUSH
    for command, path, content in requests:
        out += text("command=" + command) + text("pathname=" + path) + FLUSH
        for i in range(0, len(content), 65516):
            out += pkt(content[i:i + 65516])
        out += FLUSH
    return out
docs = []
for target, name in (("doc_yaml", "s.yaml"), ("doc_json", "s.json"), ("doc_dotenv", ".env")):
    files = sorted((corpus / target).iterdir())[:40]
    docs += [(name, f.read_bytes()) for f in files if f.stat().st_size < 8192]
enc = root / "fixtures" / "encrypted"
if enc.is_dir():
    docs += [(f.name, f.read_bytes()) for f in sorted(enc.iterdir()) if f.is_file()]
for name, content in docs:
    for command in ("clean", "smudge"):
        blob = session([(command, name, content)])
        (corpus / "pktline" / ("seed-" + hashlib.sha1(blob).hexdigest()[:16])).write_bytes(blob)
(corpus / "pktline" / "seed-handshake").write_bytes(session([]))
EOF

for t in doc_yaml doc_json doc_dotenv doc_ini token metadata sops_config pktline; do
    printf '%-12s %5d seeds\n' "$t" "$(find "$corpus/$t" -type f | wc -l)"
done
