#!/usr/bin/env bash
# Regenerates src/protos/gen from the .proto files shipped by the npm package fabric-protos.
# The copies under proto/fabric are what codegen reads; the only change to Fabric's files is
# ConnEstablish.probe (field 4, bool), which Fabric v2.1+ peers send and fabric-protos 2.2.20 lacks.
set -euo pipefail
cd "$(dirname "$0")/.."
src=node_modules/fabric-protos/protos
dst=proto/fabric
rm -rf "$dst" src/protos/gen
mkdir -p "$dst"
# The configuration files are what a peer reads from a channel's config blocks (src/channelconfig); the
# transaction, read-write set, lifecycle and transient store files are what private data reads (src/privdata).
for f in gossip/message.proto common/common.proto common/policies.proto peer/collection.proto peer/policy.proto \
         msp/identities.proto msp/msp_principal.proto orderer/ab.proto \
         common/configtx.proto common/configuration.proto msp/msp_config.proto orderer/configuration.proto \
         peer/configuration.proto \
         peer/transaction.proto peer/proposal.proto peer/proposal_response.proto peer/chaincode.proto \
         peer/chaincode_event.proto ledger/rwset/rwset.proto ledger/rwset/kvrwset/kv_rwset.proto \
         peer/lifecycle/db.proto peer/lifecycle/lifecycle.proto peer/lifecycle/chaincode_definition.proto \
         transientstore/transientstore.proto; do
  mkdir -p "$dst/$(dirname "$f")"
  cp "$src/$f" "$dst/$f"
done
# Add ConnEstablish.probe exactly as fabric-protos upstream has it since FAB-17674.
perl -0pi -e 's/(message ConnEstablish \{\n\s*bytes pki_id\s*= 1;\n\s*bytes identity\s*= 2;\n\s*bytes tls_cert_hash\s*= 3;\n)/$1    bool probe            = 4;\n/' "$dst/gossip/message.proto"
grep -q 'bool probe' "$dst/gossip/message.proto" || { echo "probe patch did not apply" >&2; exit 1; }
npx buf generate --template proto/buf.gen.yaml "$dst"

# Point the generated codecs at our writer and reader (src/protos/wire): the writer records writes and
# copies each byte once in finish(), where bufbuild's copies nested messages on every join(); the reader
# makes no DataView and keeps one shape. Empty bytes defaults share one empty array instead of
# allocating one per field per decode (nothing writes into a zero-length array). See docs/CODEC.md.
find src/protos/gen -name '*.pb.ts' | while read -r f; do
  rel=$(dirname "${f#src/protos/gen/}")
  up=$(printf '%s' "$rel" | awk -F/ '{ s = ""; for (i = 0; i <= NF; i++) s = s "../"; print s }')
  perl -pi -e 's{^import \{ BinaryReader, BinaryWriter \} from "\@bufbuild/protobuf/wire";$}{import { BinaryReader, BinaryWriter, EMPTY_BYTES } from "'"${up}"'wire/index.js";}' "$f"
  perl -pi -e 's{new Uint8Array\(0\)}{EMPTY_BYTES}g' "$f"
done
if grep -rln '@bufbuild/protobuf/wire\|new Uint8Array(0)' src/protos/gen; then
  echo "some generated files still import bufbuild's codec or allocate empty bytes: update the rewrite above" >&2
  exit 1
fi
# The descriptor set of the same sources, for the tests that compare our decoding with protobuf JSON.
npx buf build "$dst" --as-file-descriptor-set -o proto/fabric-descriptors.binpb
