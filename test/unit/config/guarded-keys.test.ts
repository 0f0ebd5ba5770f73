import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { planPeerStart } from "../../../src/cli/commands/peer.js";
import { ConfigError, type ConfigProblem, type PeerConfigLayers, loadPeerConfig, parseCoreYaml } from "../../../src/config/index.js";
import { silentLogger } from "../../../src/logging/index.js";

// Misspelt security settings are errors naming the key meant; other unknown keys stay Fabric's business.

const FIXTURE = fileURLToPath(new URL("./fixtures/core.yaml", import.meta.url));

function problemsOf(layers: PeerConfigLayers): readonly ConfigProblem[] {
  try {
    loadPeerConfig(layers);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail("expected a ConfigError");
}

/** The one problem of `layers`, which must be about `key` and suggest `meant`. */
function assertTypo(layers: PeerConfigLayers, key: string, meant: string, why = /misspelt security setting is not ignored/): void {
  const problems = problemsOf(layers);
  assert.deepEqual(
    problems.map((p) => p.key),
    [key],
    JSON.stringify(problems, null, 1),
  );
  assert.ok(problems[0]!.message.includes(`did you mean ${meant}`), problems[0]!.message);
  assert.match(problems[0]!.message, why);
}

test("core.yaml: a misspelt key of a security section or a near miss of a security key is an error naming the key meant", () => {
  const cases: [peer: Record<string, unknown>, key: string, meant: string][] = [
    [{ tls: { enabeld: true } }, "peer.tls.enabeld", "peer.tls.enabled"],
    [{ tls: { cert: { flie: "x.pem" } } }, "peer.tls.cert.flie", "peer.tls.cert.file"],
    [{ tsl: { enabled: true } }, "peer.tsl", "peer.tls"],
    [{ listenAddres: "127.0.0.1:7051" }, "peer.listenAddres", "peer.listenAddress"],
    [{ adress: "p:7051" }, "peer.adress", "peer.address"],
    [{ mspConfigPth: "msp" }, "peer.mspConfigPth", "peer.mspConfigPath"],
    [{ localMpsId: "Org1MSP" }, "peer.localMpsId", "peer.localMspId"],
    [{ authentication: { timewindw: "15m" } }, "peer.authentication.timewindw", "peer.authentication.timewindow"],
    [{ BCCSP: { Defualt: "SW" } }, "peer.BCCSP.Defualt", "peer.BCCSP.Default"],
    [{ BCCSP: { SW: { FileKeyStore: { KeyStroe: "ks" } } } }, "peer.BCCSP.SW.FileKeyStore.KeyStroe", "peer.BCCSP.SW.FileKeyStore.KeyStore"],
    [{ gosip: { bootstrap: "a:1" } }, "peer.gosip", "peer.gossip"],
  ];
  for (const [peer, key, meant] of cases) assertTypo({ yaml: { peer } }, key, meant);
  assertTypo({ yaml: { operations: { tls: { enabeld: true } } } }, "operations.tls.enabeld", "operations.tls.enabled");
  assertTypo({ yaml: { operations: { listenAdress: "127.0.0.1:9443" } } }, "operations.listenAdress", "operations.listenAddress");
  assertTypo({ yaml: { peers: { tls: { enabled: true } } } }, "peers", "peer");
  // A gossip endpoint key is checked by the gossip loader, with the same "did you mean".
  assertTypo({ yaml: { peer: { gossip: { externalEndpiont: "p:7051" } } } }, "peer.gossip.externalEndpiont", "peer.gossip.externalEndpoint", /not a key Fabric knows/);
});

test("core.yaml: an unknown key in a security section with no near key lists the section's keys", () => {
  const [p] = problemsOf({ yaml: { peer: { tls: { ocsp: { file: "x" } } } } });
  assert.equal(p?.key, "peer.tls.ocsp");
  assert.match(p.message, /peer\.tls has enabled, clientAuthRequired, cert\.file/);
  assert.deepEqual(p.source, { kind: "yaml" });
});

test("core.yaml: Fabric's other keys, keys of other releases and unknown keys far from a security key are not errors", () => {
  const { notes } = loadPeerConfig({
    yaml: {
      peer: {
        networkId: "dev",
        localMspType: "bccsp", // near localMspId, but Fabric's own key
        chaincodeListenAddress: "0.0.0.0:7052",
        chaincodeAddress: "p:7052",
        addressAutoDetect: false,
        gomaxprocs: -1,
        somethingNew: 1,
        keepalive: { intervall: "7200s" }, // a typo, but not a security one
        tls: { serverhostoverride: "" },
        BCCSP: { Default: "PKCS11", PKCS11: { Library: "/lib.so", Pin: "98765432", KeyIds: [{ SKI: "ab", ID: "cd" }], FileKeyStore: { KeyStore: "" } } },
        authentication: { timewindow: "15m" },
      },
      operations: { listenAddress: "127.0.0.1:9443", tls: { enabled: false, clientRootCAs: { files: [] } } },
      metrics: { provider: "disabled" },
      metric: {},
      vm: {},
    },
  });
  assert.ok(!notes.some((n) => /tls|BCCSP|operations|authentication|localMspType/.test(n.key)), JSON.stringify(notes));
});

test("core.yaml: Fabric's sampleconfig-shaped fixture loads without error (keys are matched case-insensitively)", () => {
  const doc = parseCoreYaml(readFileSync(FIXTURE, "utf8")) as { peer: Record<string, unknown> };
  loadPeerConfig({ yaml: doc });
  loadPeerConfig({ yaml: { peer: { TLS: { Enabled: false }, bccsp: { default: "SW" }, LocalMSPID: "Org1MSP" } } });
});

test("environment: a misspelt CORE_PEER_TLS_* or near miss of a security variable is an error; Fabric's other variables are not", () => {
  const cases: [name: string, meant: string][] = [
    ["CORE_PEER_TLS_ENABELD", "CORE_PEER_TLS_ENABLED (peer.tls.enabled)"],
    ["CORE_PEER_TSL_ENABLED", "CORE_PEER_TLS_ENABLED (peer.tls.enabled)"],
    ["CORE_PEER_LISTENADDRES", "CORE_PEER_LISTENADDRESS (peer.listenAddress)"],
    ["CORE_PEER_LOCALMSPDI", "CORE_PEER_LOCALMSPID (peer.localMspId)"],
    ["CORE_PEER_GOSIP_EXTERNALENDPOINT", "CORE_PEER_GOSSIP_EXTERNALENDPOINT (peer.gossip.externalEndpoint)"],
    ["CORE_OPERATIONS_TLS_ENABLE", "CORE_OPERATIONS_TLS_ENABLED (operations.tls.enabled)"],
    ["CORE_PEER_BCCSP_SW_HSAH", "CORE_PEER_BCCSP_SW_HASH (peer.BCCSP.SW.Hash)"],
  ];
  for (const [name, meant] of cases) assertTypo({ env: { [name]: "true" } }, name, meant);
  // Set but empty: viper ignores it, so do we.
  loadPeerConfig({ env: { CORE_PEER_TLS_ENABELD: "" } });
  loadPeerConfig({
    env: {
      CORE_PEER_TLS_ENABLED: "false",
      CORE_PEER_TLS_SERVERHOSTOVERRIDE: "x",
      CORE_PEER_LOCALMSPTYPE: "bccsp",
      CORE_PEER_NETWORKID: "dev",
      CORE_PEER_CHAINCODEADDRESS: "cc:7052",
      CORE_PEER_CHAINCODELISTENADDRESS: "0.0.0.0:7052",
      CORE_PEER_GATEWAY_ENABLED: "true",
      CORE_PEER_BCCSP_SW_HASH: "SHA2",
      CORE_PEER_AUTHENTICATION_TIMEWINDOW: "15m",
      CORE_OPERATIONS_LISTENADDRESS: "127.0.0.1:9443",
      CORE_OPERATIONS_TLS_ENABLED: "false",
      CORE_METRICS_PROVIDER: "prometheus",
    },
  });
});

test("peer start: a misspelt security key fails the start naming the key, the file and the key meant", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "fabric-gossip-guarded-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, "core.yaml");
  await writeFile(file, "peer:\n  listenAddress: 127.0.0.1:7051\n  tls:\n    enabeld: true\n");
  await assert.rejects(
    planPeerStart({ config: file, insecureDevCrypto: true }, {}, silentLogger),
    (err: Error) => {
      assert.ok(err.message.includes(`peer.tls.enabeld (from ${file})`), err.message);
      assert.match(err.message, /did you mean peer\.tls\.enabled\?/);
      return true;
    },
  );
});
