import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import {
  ConfigError,
  type ConfigNote,
  type ConfigProblem,
  type ConfigSource,
  DEFAULT_GOSSIP_CONFIG,
  DEFAULT_PEER_CONFIG,
  PEER_KEYS,
  type PeerConfig,
  type PeerConfigLayers,
  defaultPeerConfig,
  gossipSectionFromCoreYaml,
  loadPeerConfig,
  parseCoreYaml,
  peerEnvName,
  splitListText,
  tlsClientKeyPairOf,
} from "../../../src/config/index.js";
import { GossipError } from "../../../src/util/errors.js";

const FIXTURE = fileURLToPath(new URL("./fixtures/core.yaml", import.meta.url));
const CONFIG_MD = fileURLToPath(new URL("../../../docs/CONFIG.md", import.meta.url));
const fixtureDoc = (): unknown => parseCoreYaml(readFileSync(FIXTURE, "utf8"));

/** Loads, expects a ConfigError, checks its shape, returns its problems. */
function problemsOf(layers: PeerConfigLayers): readonly ConfigProblem[] {
  try {
    loadPeerConfig(layers);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.ok(err instanceof GossipError);
    assert.equal(err.code, "CONFIG_INVALID");
    for (const p of err.problems) assert.ok(err.message.includes(p.key), `the message names ${p.key}`);
    return err.problems;
  }
  assert.fail("expected a ConfigError");
}

function problemFor(layers: PeerConfigLayers, key: string): ConfigProblem {
  const problems = problemsOf(layers);
  const p = problems.find((x) => x.key === key);
  assert.ok(p, `a problem for ${key} in ${JSON.stringify(problems, null, 1)}`);
  return p;
}

const yamlOf = (peer: Record<string, unknown>): PeerConfigLayers => ({ yaml: { peer } });
const noteKeys = (notes: readonly ConfigNote[]): string[] => notes.map((n) => n.key);

// ---------------------------------------------------------------------------------------------
// Defaults

test("defaults are Fabric v2.5 sampleconfig's values (tls files empty) and peer.gossip's code defaults", () => {
  // Transcribed from Fabric v2.5.16 sampleconfig/core.yaml and core/deliverservice/config.go.
  const expected: PeerConfig = {
    id: "jdoe",
    address: "0.0.0.0:7051",
    listenAddress: "0.0.0.0:7051",
    fileSystemPath: "/var/hyperledger/production",
    mspConfigPath: "msp",
    localMspId: "SampleOrg",
    tls: {
      enabled: false,
      clientAuthRequired: false,
      certFile: "",
      keyFile: "",
      rootCertFile: "",
      clientRootCAFiles: [],
      clientCertFile: "",
      clientKeyFile: "",
    },
    gossip: structuredClone(DEFAULT_GOSSIP_CONFIG) as PeerConfig["gossip"],
    deliveryclient: {
      blockGossipEnabled: true,
      reconnectTotalTimeThresholdMs: 3_600_000,
      connTimeoutMs: 3_000,
      reConnectBackoffThresholdMs: 3_600_000,
      addressOverrides: [],
    },
    // Unlike the sample (127.0.0.1:9443), no operations endpoint unless a core.yaml names one.
    operations: {
      listenAddress: "",
      tls: { enabled: false, certFile: "", keyFile: "", clientAuthRequired: false, clientRootCAFiles: [] },
    },
  };
  const { config, notes } = loadPeerConfig();
  assert.deepEqual(config, expected);
  assert.deepEqual(loadPeerConfig({}).config, expected);
  assert.deepEqual(DEFAULT_PEER_CONFIG, expected);
  assert.deepEqual(defaultPeerConfig(), expected);
  // The sample's 0.0.0.0 address cannot be dialed by others: said, not refused.
  assert.ok(noteKeys(notes).includes("peer.address"));
});

test("DEFAULT_PEER_CONFIG is deeply frozen; defaultPeerConfig() is a fresh mutable copy", () => {
  assert.ok(Object.isFrozen(DEFAULT_PEER_CONFIG));
  assert.ok(Object.isFrozen(DEFAULT_PEER_CONFIG.tls));
  assert.ok(Object.isFrozen(DEFAULT_PEER_CONFIG.deliveryclient.addressOverrides));
  const a = defaultPeerConfig();
  a.tls.clientRootCAFiles.push("x");
  a.gossip.bootstrap.push("h:1");
  assert.deepEqual(defaultPeerConfig().tls.clientRootCAFiles, []);
  assert.deepEqual(defaultPeerConfig().gossip.bootstrap, []);
});

test("the key table matches Fabric's sampleconfig and env naming", () => {
  const byKey = new Map(PEER_KEYS.map((s) => [s.key, s]));
  assert.equal(byKey.get("peer.deliveryclient.reConnectBackoffThreshold")?.yaml, "3600s");
  assert.equal(byKey.get("peer.localMspId")?.yaml, "SampleOrg");
  assert.equal(peerEnvName("peer.tls.cert.file"), "CORE_PEER_TLS_CERT_FILE");
  assert.equal(peerEnvName("peer.deliveryclient.reconnectTotalTimeThreshold"), "CORE_PEER_DELIVERYCLIENT_RECONNECTTOTALTIMETHRESHOLD");
  assert.equal(peerEnvName("peer.listenAddress"), "CORE_PEER_LISTENADDRESS");
  assert.equal(peerEnvName("peer.tls.clientRootCAs.files"), "CORE_PEER_TLS_CLIENTROOTCAS_FILES");
});

test("docs/CONFIG.md lists every peer key with its environment variable", () => {
  const md = readFileSync(CONFIG_MD, "utf8");
  for (const s of PEER_KEYS) {
    const row = md.split("\n").find((l) => l.startsWith(`| \`${s.key}\``));
    assert.ok(row, `a table row for ${s.key}`);
    assert.ok(row.includes(`\`${peerEnvName(s.key)}\``), `${s.key}: its variable ${peerEnvName(s.key)}`);
  }
});

// ---------------------------------------------------------------------------------------------
// core.yaml

test("a whole sampleconfig-shaped core.yaml loads: every part, relative paths from its folder, Fabric's other keys ignored", () => {
  const { config, notes } = loadPeerConfig({ yaml: fixtureDoc(), configDir: "/etc/hyperledger/fabric" });
  assert.equal(config.id, "peer0.org1.example.com");
  assert.equal(config.address, "peer0.org1.example.com:7051");
  assert.equal(config.listenAddress, "0.0.0.0:7051");
  assert.equal(config.fileSystemPath, "/var/hyperledger/production");
  assert.equal(config.mspConfigPath, "/etc/hyperledger/fabric/msp");
  assert.equal(config.localMspId, "Org1MSP");
  assert.deepEqual(config.tls, {
    enabled: true,
    clientAuthRequired: false,
    certFile: "/etc/hyperledger/fabric/tls/server.crt",
    keyFile: "/etc/hyperledger/fabric/tls/server.key",
    rootCertFile: "/etc/hyperledger/fabric/tls/ca.crt",
    clientRootCAFiles: ["/etc/hyperledger/fabric/tls/ca.crt", "/etc/hyperledger/orgs/org2/tls-ca.crt"],
    clientCertFile: "",
    clientKeyFile: "",
  });
  assert.deepEqual(config.deliveryclient, {
    blockGossipEnabled: true,
    reconnectTotalTimeThresholdMs: 3_600_000,
    connTimeoutMs: 3_000,
    reConnectBackoffThresholdMs: 3_600_000,
    addressOverrides: [
      { from: "orderer.example.com:7050", to: "orderer.internal.example.com:7050", caCertsFile: "/etc/hyperledger/fabric/orderer/tls-ca.crt" },
    ],
  });
  assert.deepEqual(config.gossip.bootstrap, ["peer1.org1.example.com:7051", "peer2.org1.example.com:7051"]);
  assert.equal(config.gossip.useLeaderElection, true);
  assert.equal(config.gossip.orgLeader, false);
  assert.equal(config.gossip.externalEndpoint, "peer0.org1.example.com:7051");
  assert.equal(config.gossip.sendBuffSize, 200);
  assert.equal(config.gossip.state.enabled, true);
  assert.equal(config.gossip.pvtData.pushAckTimeoutMs, 3_000);
  // Only the dead gossip key is worth a note; keepalive, gateway, BCCSP, handlers, vm, ledger... are silent.
  assert.deepEqual(noteKeys(notes), ["peer.gossip.stateInfoRetentionInterval"]);
});

test("operations.*: the fixture's listenAddress and TLS off; relative TLS paths from the config folder; CORE_OPERATIONS_* win over core.yaml", () => {
  const { config } = loadPeerConfig({ yaml: fixtureDoc(), configDir: "/etc/hyperledger/fabric" });
  assert.deepEqual(config.operations, {
    listenAddress: "127.0.0.1:9443",
    tls: { enabled: false, certFile: "", keyFile: "", clientAuthRequired: false, clientRootCAFiles: [] },
  });
  const yaml = {
    operations: {
      listenAddress: "127.0.0.1:0",
      tls: { enabled: true, cert: { file: "ops/server.crt" }, key: { file: "/abs/server.key" }, clientAuthRequired: true, clientRootCAs: { files: ["ops/ca.crt"] } },
    },
  };
  const fromYaml = loadPeerConfig({ yaml, configDir: "/etc/fabric" }).config.operations;
  assert.deepEqual(fromYaml, {
    listenAddress: "127.0.0.1:0",
    tls: { enabled: true, certFile: "/etc/fabric/ops/server.crt", keyFile: "/abs/server.key", clientAuthRequired: true, clientRootCAFiles: ["/etc/fabric/ops/ca.crt"] },
  });
  const env = {
    CORE_OPERATIONS_LISTENADDRESS: "0.0.0.0:9444",
    CORE_OPERATIONS_TLS_CERT_FILE: "env.crt",
    CORE_OPERATIONS_TLS_CLIENTAUTHREQUIRED: "false",
    CORE_OPERATIONS_TLS_CLIENTROOTCAS_FILES: "[a.crt, /b.crt]",
  };
  const fromEnv = loadPeerConfig({ yaml, configDir: "/etc/fabric", env }).config.operations;
  assert.deepEqual(fromEnv, {
    listenAddress: "0.0.0.0:9444",
    tls: { enabled: true, certFile: "/etc/fabric/env.crt", keyFile: "/abs/server.key", clientAuthRequired: false, clientRootCAFiles: ["/etc/fabric/a.crt", "/b.crt"] },
  });
  assert.equal(peerEnvName("operations.tls.clientRootCAs.files"), "CORE_OPERATIONS_TLS_CLIENTROOTCAS_FILES");
  const over = loadPeerConfig({ yaml, configDir: "/etc/fabric", overrides: { "operations.listenAddress": "127.0.0.1:9999", "operations.tls.enabled": false } });
  assert.equal(over.config.operations.listenAddress, "127.0.0.1:9999");
  assert.equal(over.config.operations.tls.enabled, false);
  assert.ok(noteKeys(over.notes).includes("operations.tls.clientAuthRequired"), "client auth without TLS has no effect: a note");
});

test("operations.tls.enabled without its files, or client auth with no client root CA, is refused naming the key", () => {
  const missing = problemsOf({ env: { CORE_OPERATIONS_TLS_ENABLED: "true" } });
  const cert = missing.find((p) => p.key === "operations.tls.cert.file");
  assert.match(cert?.message ?? "", /is not set, but operations\.tls\.enabled is true \(from env CORE_OPERATIONS_TLS_ENABLED\)/);
  assert.ok(missing.some((p) => p.key === "operations.tls.key.file"));
  assert.ok(!missing.some((p) => p.key === "operations.tls.clientRootCAs.files"), "client auth is off: no CA needed");
  const noCa = problemFor(
    { yaml: { operations: { tls: { enabled: true, cert: { file: "/c" }, key: { file: "/k" }, clientAuthRequired: true, clientRootCAs: { files: [] } } } } },
    "operations.tls.clientRootCAs.files",
  );
  assert.match(noCa.message, /is empty, but operations\.tls\.clientAuthRequired is true/);
  const badAddress = problemFor({ yaml: { operations: { listenAddress: "9443" } } }, "operations.listenAddress");
  assert.equal(badAddress.source?.kind, "yaml");
  assert.match(problemFor({ yaml: { operations: "127.0.0.1:9443" } }, "operations").message, /expected a mapping/);
});

test("without configDir, paths stay as written", () => {
  const { config } = loadPeerConfig({ yaml: fixtureDoc() });
  assert.equal(config.mspConfigPath, "msp");
  assert.equal(config.tls.certFile, "tls/server.crt");
  assert.deepEqual(config.tls.clientRootCAFiles, ["tls/ca.crt", "/etc/hyperledger/orgs/org2/tls-ca.crt"]);
  assert.equal(config.deliveryclient.addressOverrides[0]?.caCertsFile, "orderer/tls-ca.crt");
});

test("keys match case-insensitively, as viper's do; a key with no value is not set", () => {
  const { config } = loadPeerConfig({
    yaml: {
      PEER: {
        ID: null,
        ListenAddress: "127.0.0.1:9051",
        TLS: { Enabled: true, CERT: { FILE: "c.pem" }, Key: { File: "k.pem" }, RootCert: { file: "ca.pem" }, clientrootcas: { FILES: "a.pem b.pem" } },
        DeliveryClient: { BlockGossipEnabled: null, ConnTimeout: "10s", ADDRESSOVERRIDES: [{ FROM: "o:7050", To: "p:7050" }] },
        Gossip: { PullInterval: "5s" },
      },
    },
  });
  assert.equal(config.id, "jdoe");
  assert.equal(config.listenAddress, "127.0.0.1:9051");
  assert.equal(config.tls.enabled, true);
  assert.equal(config.tls.certFile, "c.pem");
  assert.equal(config.tls.keyFile, "k.pem");
  assert.equal(config.tls.rootCertFile, "ca.pem");
  assert.deepEqual(config.tls.clientRootCAFiles, ["a.pem", "b.pem"]);
  assert.equal(config.deliveryclient.blockGossipEnabled, true, "null is not set, and an unset key is true");
  assert.equal(config.deliveryclient.connTimeoutMs, 10_000);
  assert.deepEqual(config.deliveryclient.addressOverrides, [{ from: "o:7050", to: "p:7050", caCertsFile: "" }]);
  assert.equal(config.gossip.pullIntervalMs, 5_000);
});

test("blockGossipEnabled: absent is true (Fabric's IsSet check), false is false", () => {
  assert.equal(loadPeerConfig(yamlOf({ deliveryclient: {} })).config.deliveryclient.blockGossipEnabled, true);
  assert.equal(loadPeerConfig(yamlOf({ deliveryclient: { blockGossipEnabled: false } })).config.deliveryclient.blockGossipEnabled, false);
  assert.equal(loadPeerConfig({ env: { CORE_PEER_DELIVERYCLIENT_BLOCKGOSSIPENABLED: "false" } }).config.deliveryclient.blockGossipEnabled, false);
});

test("unknown keys under peer.deliveryclient are notes; other unknown peer keys are ignored (peer.tls ones are errors)", () => {
  const { notes } = loadPeerConfig(
    yamlOf({
      networkId: "dev",
      keepalive: { interval: "7200s" },
      gateway: { enabled: true },
      somethingNew: 1,
      deliveryclient: { policy: "cft", addressOverrides: [{ from: "o:1", to: "p:1", caCertFile: "ca.pem" }] },
    }),
  );
  const byKey = new Map(notes.map((n) => [n.key, n.message]));
  assert.match(byKey.get("peer.deliveryclient.policy") ?? "", /ignored/);
  assert.match(byKey.get("peer.deliveryclient.addressOverrides[0].caCertFile") ?? "", /not a field of an address override.*ignored/);
  for (const k of byKey.keys()) assert.ok(!/networkId|keepalive|gateway|somethingNew/.test(k), `${k} is not noted`);
  const p = problemFor(yamlOf({ tls: { clientAuthRequierd: true } }), "peer.tls.clientAuthRequierd");
  assert.match(p.message, /did you mean peer\.tls\.clientAuthRequired\?/);
});

test("peer.deliveryclient durations: 0 or empty means the default, as in Fabric, with a note", () => {
  const { config, notes } = loadPeerConfig(yamlOf({ deliveryclient: { connTimeout: 0, reConnectBackoffThreshold: "", reconnectTotalTimeThreshold: "90m" } }));
  assert.equal(config.deliveryclient.connTimeoutMs, 3_000);
  assert.equal(config.deliveryclient.reConnectBackoffThresholdMs, 3_600_000);
  assert.equal(config.deliveryclient.reconnectTotalTimeThresholdMs, 5_400_000);
  const byKey = new Map(notes.map((n) => [n.key, n.message]));
  assert.match(byKey.get("peer.deliveryclient.connTimeout") ?? "", /is 0, which Fabric reads as "use the default": 3s/);
  assert.match(byKey.get("peer.deliveryclient.reConnectBackoffThreshold") ?? "", /is empty, which Fabric reads as "use the default": 1h0m0s/);
});

test("peer.listenAddress may use port 0 (any free port); peer.address may not", () => {
  assert.equal(loadPeerConfig(yamlOf({ listenAddress: "127.0.0.1:0" })).config.listenAddress, "127.0.0.1:0");
  assert.match(problemFor(yamlOf({ address: "127.0.0.1:0" }), "peer.address").message, /port 0, outside 1-65535/);
});

// ---------------------------------------------------------------------------------------------
// Environment

test("CORE_PEER_* variables override core.yaml, with Fabric's names and text forms", () => {
  const { config } = loadPeerConfig({
    yaml: fixtureDoc(),
    env: {
      CORE_PEER_ID: "peer9",
      CORE_PEER_ADDRESS: "peer9.org1.example.com:9051",
      CORE_PEER_LISTENADDRESS: "0.0.0.0:9051",
      CORE_PEER_LOCALMSPID: "Org9MSP",
      CORE_PEER_FILESYSTEMPATH: "/data/peer9",
      CORE_PEER_TLS_ENABLED: "true",
      CORE_PEER_TLS_CLIENTAUTHREQUIRED: "T",
      CORE_PEER_TLS_CERT_FILE: "/certs/server.crt",
      CORE_PEER_TLS_CLIENTCERT_FILE: "/certs/client.crt",
      CORE_PEER_TLS_CLIENTKEY_FILE: "/certs/client.key",
      CORE_PEER_DELIVERYCLIENT_RECONNECTTOTALTIMETHRESHOLD: "15m",
      CORE_PEER_DELIVERYCLIENT_CONNTIMEOUT: "1500ms",
      CORE_PEER_DELIVERYCLIENT_BLOCKGOSSIPENABLED: "0",
      CORE_PEER_GOSSIP_ORGLEADER: "true",
      CORE_PEER_GOSSIP_USELEADERELECTION: "false",
      CORE_PEER_MSPCONFIGPATH: "", // empty: ignored, core.yaml's value stays
      CORE_PEER_KEEPALIVE_INTERVAL: "1s", // Fabric's, not ours: ignored
      PATH: "/usr/bin",
    },
  });
  assert.equal(config.id, "peer9");
  assert.equal(config.address, "peer9.org1.example.com:9051");
  assert.equal(config.listenAddress, "0.0.0.0:9051");
  assert.equal(config.localMspId, "Org9MSP");
  assert.equal(config.fileSystemPath, "/data/peer9");
  assert.equal(config.mspConfigPath, "msp");
  assert.equal(config.tls.enabled, true);
  assert.equal(config.tls.clientAuthRequired, true);
  assert.equal(config.tls.certFile, "/certs/server.crt");
  assert.equal(config.tls.keyFile, "tls/server.key");
  assert.deepEqual(tlsClientKeyPairOf(config.tls), { certFile: "/certs/client.crt", keyFile: "/certs/client.key" });
  assert.equal(config.deliveryclient.reconnectTotalTimeThresholdMs, 900_000);
  assert.equal(config.deliveryclient.connTimeoutMs, 1_500);
  assert.equal(config.deliveryclient.blockGossipEnabled, false);
  assert.equal(config.gossip.orgLeader, true);
  assert.equal(config.gossip.useLeaderElection, false);
});

test("CORE_PEER_TLS_ENABLED=true alone is refused: the TLS files are named as missing, with where enabled came from", () => {
  const problems = problemsOf({ env: { CORE_PEER_TLS_ENABLED: "true" } });
  assert.deepEqual(
    problems.map((p) => p.key),
    ["peer.tls.cert.file", "peer.tls.key.file", "peer.tls.rootcert.file"],
  );
  for (const p of problems) assert.match(p.message, /is not set, but peer\.tls\.enabled is true \(from env CORE_PEER_TLS_ENABLED\); expected the PEM file/);
  const ok = loadPeerConfig({
    env: {
      CORE_PEER_TLS_ENABLED: "true",
      CORE_PEER_TLS_CERT_FILE: "/t/server.crt",
      CORE_PEER_TLS_KEY_FILE: "/t/server.key",
      CORE_PEER_TLS_ROOTCERT_FILE: "/t/ca.crt",
    },
  }).config.tls;
  assert.deepEqual(tlsClientKeyPairOf(ok), { certFile: "/t/server.crt", keyFile: "/t/server.key" });
});

test("list values from the environment: spaces, commas or [a, b]", () => {
  const files = (v: string): string[] => loadPeerConfig({ env: { CORE_PEER_TLS_CLIENTROOTCAS_FILES: v } }).config.tls.clientRootCAFiles;
  assert.deepEqual(files("/a/ca.crt /b/ca.crt"), ["/a/ca.crt", "/b/ca.crt"]);
  assert.deepEqual(files("/a/ca.crt,/b/ca.crt"), ["/a/ca.crt", "/b/ca.crt"]);
  assert.deepEqual(files("[/a/ca.crt, /b/ca.crt]"), ["/a/ca.crt", "/b/ca.crt"]);
  assert.deepEqual(files("  /only.crt  "), ["/only.crt"]);
  assert.deepEqual(files("[]"), []);
  assert.deepEqual(splitListText("a\tb\n c"), ["a", "b", "c"]);
});

test("address overrides from the environment are the list written as YAML (Fabric's YamlStringToStructHook)", () => {
  const { config } = loadPeerConfig({
    configDir: "/cfg",
    env: { CORE_PEER_DELIVERYCLIENT_ADDRESSOVERRIDES: "[{from: orderer:7050, to: localhost:7050, caCertsFile: ca.pem}, {from: o2:7050, to: localhost:8050}]" },
  });
  assert.deepEqual(config.deliveryclient.addressOverrides, [
    { from: "orderer:7050", to: "localhost:7050", caCertsFile: "/cfg/ca.pem" },
    { from: "o2:7050", to: "localhost:8050", caCertsFile: "" },
  ]);
});

test("unknown CORE_PEER_DELIVERYCLIENT_* variables are notes; other CORE_PEER_* are ignored (CORE_PEER_TLS_* ones are errors)", () => {
  const { notes } = loadPeerConfig({
    env: { CORE_PEER_DELIVERYCLIENT_POLICY: "bft", CORE_PEER_NETWORKID: "dev", CORE_PEER_CHAINCODEADDRESS: "cc:7052" },
  });
  const byKey = new Map(notes.map((n) => [n.key, n.message]));
  assert.match(byKey.get("CORE_PEER_DELIVERYCLIENT_POLICY") ?? "", /ignored/);
  assert.ok(!byKey.has("CORE_PEER_NETWORKID"));
  assert.ok(!byKey.has("CORE_PEER_CHAINCODEADDRESS"));
  const p = problemFor({ env: { CORE_PEER_TLS_CERTFILE: "/x.pem" } }, "CORE_PEER_TLS_CERTFILE");
  assert.match(p.message, /did you mean CORE_PEER_TLS_CERT_FILE \(peer\.tls\.cert\.file\)\?/);
});

test("relative paths from the environment are resolved against configDir too (Fabric's GetPath reads env the same way)", () => {
  const { config } = loadPeerConfig({
    configDir: "/etc/fabric",
    env: { CORE_PEER_MSPCONFIGPATH: "org1/msp", CORE_PEER_TLS_CLIENTROOTCAS_FILES: "a.crt /abs/b.crt", CORE_PEER_FILESYSTEMPATH: "data" },
  });
  assert.equal(config.mspConfigPath, "/etc/fabric/org1/msp");
  assert.equal(config.fileSystemPath, "/etc/fabric/data");
  assert.deepEqual(config.tls.clientRootCAFiles, ["/etc/fabric/a.crt", "/abs/b.crt"]);
  // Defaults are not core.yaml values: they stay as they are.
  assert.equal(loadPeerConfig({ configDir: "/etc/fabric" }).config.mspConfigPath, "msp");
});

// ---------------------------------------------------------------------------------------------
// Overrides

test("overrides win over the environment and core.yaml; peer.gossip.* keys reach the gossip configuration", () => {
  const { config } = loadPeerConfig({
    yaml: fixtureDoc(),
    configDir: "/etc/hyperledger/fabric",
    env: { CORE_PEER_LISTENADDRESS: "0.0.0.0:9051", CORE_PEER_GOSSIP_PULLINTERVAL: "8s" },
    overrides: {
      "peer.listenAddress": "127.0.0.1:7999",
      "peer.mspConfigPath": "crypto/msp", // not resolved: overrides are taken as given
      "peer.tls.enabled": false,
      "peer.tls.clientRootCAs.files": ["x.crt", "y.crt"],
      "peer.deliveryclient.connTimeout": "7s",
      "peer.deliveryclient.addressOverrides": [],
      "Peer.Gossip.PullInterval": "9s",
      "peer.gossip.bootstrap": ["127.0.0.1:7051"],
      "peer.fileSystemPath": undefined, // sets nothing
    },
  });
  assert.equal(config.listenAddress, "127.0.0.1:7999");
  assert.equal(config.mspConfigPath, "crypto/msp");
  assert.equal(config.tls.enabled, false);
  assert.deepEqual(config.tls.clientRootCAFiles, ["x.crt", "y.crt"]);
  assert.equal(config.deliveryclient.connTimeoutMs, 7_000);
  assert.deepEqual(config.deliveryclient.addressOverrides, []);
  assert.equal(config.gossip.pullIntervalMs, 9_000);
  assert.deepEqual(config.gossip.bootstrap, ["127.0.0.1:7051"]);
  assert.equal(config.fileSystemPath, "/var/hyperledger/production");
});

test("string overrides are read like the environment", () => {
  const { config } = loadPeerConfig({ overrides: { "peer.tls.clientAuthRequired": "true", "peer.tls.clientRootCAs.files": "[a.crt, b.crt]" } });
  assert.equal(config.tls.clientAuthRequired, true);
  assert.deepEqual(config.tls.clientRootCAFiles, ["a.crt", "b.crt"]);
});

// ---------------------------------------------------------------------------------------------
// Validation: every problem names the full key and the layer the value came from

const YAML: ConfigSource = { kind: "yaml" };
const OVERRIDE: ConfigSource = { kind: "override" };
const env = (name: string): ConfigSource => ({ kind: "env", name });

/** [what, layers, key, source, message] */
const CASES: ReadonlyArray<[string, PeerConfigLayers, string, ConfigSource | undefined, RegExp]> = [
  ["listenAddress without host:port", yamlOf({ listenAddress: "7051" }), "peer.listenAddress", YAML, /got "7051", which has no port; expected host:port to listen on/],
  ["address with a bad port", { env: { CORE_PEER_ADDRESS: "peer0:99999" } }, "peer.address", env("CORE_PEER_ADDRESS"), /port 99999, outside 1-65535; expected host:port/],
  ["address with a space in the host", yamlOf({ address: "peer 0:7051" }), "peer.address", YAML, /not a host name or IP address/],
  ["an empty id", { overrides: { "peer.id": "" } }, "peer.id", OVERRIDE, /is empty; expected a name for this peer/],
  ["an empty address", { overrides: { "peer.address": "" } }, "peer.address", OVERRIDE, /is empty; expected the host:port other peers reach this peer at/],
  ["an empty localMspId", yamlOf({ localMspId: "" }), "peer.localMspId", YAML, /is empty; expected the local MSP's ID/],
  ["an empty mspConfigPath", yamlOf({ mspConfigPath: " " }), "peer.mspConfigPath", YAML, /is empty; expected the local MSP folder/],
  ["an empty fileSystemPath", { overrides: { "peer.fileSystemPath": "" } }, "peer.fileSystemPath", OVERRIDE, /is empty/],
  ["a number as localMspId", yamlOf({ localMspId: 42 }), "peer.localMspId", YAML, /got 42, not text \(put it in quotes\)/],
  ["a quoted boolean in YAML", yamlOf({ tls: { enabled: "yes" } }), "peer.tls.enabled", YAML, /got the string "yes" \(write true or false without quotes\)/],
  ["a wrong boolean in env", { env: { CORE_PEER_TLS_ENABLED: "on" } }, "peer.tls.enabled", env("CORE_PEER_TLS_ENABLED"), /got "on".*expected true or false/],
  ["a duration without unit (YAML)", yamlOf({ deliveryclient: { connTimeout: 5 } }), "peer.deliveryclient.connTimeout", YAML, /number 5, which has no unit/],
  ["a duration without unit (env)", { env: { CORE_PEER_DELIVERYCLIENT_CONNTIMEOUT: "5" } }, "peer.deliveryclient.connTimeout", env("CORE_PEER_DELIVERYCLIENT_CONNTIMEOUT"), /"5", which has no unit/],
  ["a negative duration", { env: { CORE_PEER_DELIVERYCLIENT_RECONNECTTOTALTIMETHRESHOLD: "-1s" } }, "peer.deliveryclient.reconnectTotalTimeThreshold", env("CORE_PEER_DELIVERYCLIENT_RECONNECTTOTALTIMETHRESHOLD"), /is negative \(-1s\); expected a duration above 0/],
  ["a negative connTimeout", yamlOf({ deliveryclient: { connTimeout: "-3s" } }), "peer.deliveryclient.connTimeout", YAML, /is negative \(-3s\); expected a duration above 0/],
  ["a negative reConnectBackoffThreshold", { overrides: { "peer.deliveryclient.reConnectBackoffThreshold": "-1h" } }, "peer.deliveryclient.reConnectBackoffThreshold", OVERRIDE, /is negative/],
  ["a duration a Node timer cannot wait", yamlOf({ deliveryclient: { reConnectBackoffThreshold: "800h" } }), "peer.deliveryclient.reConnectBackoffThreshold", YAML, /is 800h0m0s; expected at most/],
  ["a bad duration unit", { overrides: { "peer.deliveryclient.connTimeout": "3 secs" } }, "peer.deliveryclient.connTimeout", OVERRIDE, /got "3 secs": time: unknown unit/],
  ["a mapping where a value belongs", yamlOf({ id: { name: "x" } }), "peer.id", YAML, /is a mapping; expected text/],
  ["a string where a section belongs", yamlOf({ tls: "on" }), "peer.tls", YAML, /is "on"; expected a mapping of keys \(enabled, clientAuthRequired, cert, key, rootcert, clientRootCAs, clientKey, clientCert\)/],
  ["a file path where the cert section belongs", yamlOf({ tls: { cert: "server.crt" } }), "peer.tls.cert", YAML, /is "server.crt"; expected a mapping of keys \(file\)/],
  ["peer not a mapping", { yaml: { peer: ["a"] } }, "peer", YAML, /is a list; expected a mapping of keys/],
  ["a document that is not a mapping", { yaml: "just text" }, "(core.yaml)", YAML, /is "just text"; expected a mapping with a peer section/],
  ["a list entry that is not text", yamlOf({ tls: { clientRootCAs: { files: ["a.crt", 7] } } }), "peer.tls.clientRootCAs.files[1]", YAML, /is 7; expected a path/],
  ["a key given twice in one layer", yamlOf({ id: "a", ID: "b" }), "peer.id", YAML, /is given twice in the same layer \(keys are case-insensitive: "peer.ID"\)/],
  ["an unknown override key", { overrides: { "peer.listenAdress": "0.0.0.0:7051" } }, "peer.listenAdress", OVERRIDE, /not a key fabric-gossip reads; did you mean peer\.listenAddress\?/],
  ["an override naming a section", { overrides: { "peer.tls.cert": "x" } }, "peer.tls.cert", OVERRIDE, /is a section; name a key inside it/],
  ["an address override without to", yamlOf({ deliveryclient: { addressOverrides: [{ from: "o:7050" }] } }), "peer.deliveryclient.addressOverrides[0].to", YAML, /is missing; expected host:port/],
  ["an address override that is not a mapping", yamlOf({ deliveryclient: { addressOverrides: ["o:7050"] } }), "peer.deliveryclient.addressOverrides[0]", YAML, /is "o:7050"; expected a mapping with from, to/],
  ["an address override with a bad from", { overrides: { "peer.deliveryclient.addressOverrides": [{ from: "orderer", to: "o:1" }] } }, "peer.deliveryclient.addressOverrides[0].from", OVERRIDE, /is "orderer", which has no port/],
  ["an orderer overridden twice", yamlOf({ deliveryclient: { addressOverrides: [{ from: "o:1", to: "a:1" }, { from: "o:1", to: "b:1" }] } }), "peer.deliveryclient.addressOverrides[1].from", YAML, /already overridden by entry \[0\]/],
  ["address overrides as broken YAML text", { env: { CORE_PEER_DELIVERYCLIENT_ADDRESSOVERRIDES: "[{from: a:1" } }, "peer.deliveryclient.addressOverrides", env("CORE_PEER_DELIVERYCLIENT_ADDRESSOVERRIDES"), /is not valid YAML/],
  ["address overrides as a mapping", yamlOf({ deliveryclient: { addressOverrides: { from: "a:1", to: "b:1" } } }), "peer.deliveryclient.addressOverrides", YAML, /is a mapping; expected a list of mappings/],
  ["a client key without its certificate", yamlOf({ tls: { enabled: true, cert: { file: "c" }, key: { file: "k" }, rootcert: { file: "r" }, clientKey: { file: "ck" } } }), "peer.tls.clientCert.file", undefined, /is not set, but peer\.tls\.clientKey\.file is \(from core\.yaml\); expected both or neither/],
  ["an explicitly empty cert file with TLS on", yamlOf({ tls: { enabled: true, cert: { file: "" }, key: { file: "k" }, rootcert: { file: "r" } } }), "peer.tls.cert.file", YAML, /is not set, but peer\.tls\.enabled is true \(from core\.yaml\)/],
  ["a broken peer.gossip key", yamlOf({ gossip: { pullInterval: 4 } }), "peer.gossip.pullInterval", YAML, /number 4, which has no unit/],
  ["a broken CORE_PEER_GOSSIP_ variable", { env: { CORE_PEER_GOSSIP_PULLINTERVAL: "1s" } }, "peer.gossip.pullInterval", env("CORE_PEER_GOSSIP_PULLINTERVAL"), /expected more than peer\.gossip\.digestWaitTime/],
];

for (const [what, layers, key, source, message] of CASES) {
  test(`validation: ${what} -> ${key}`, () => {
    const p = problemFor(layers, key);
    assert.deepEqual(p.source, source, `${key}: source`);
    assert.match(p.message, message);
  });
}

test("every problem of every part is reported at once", () => {
  const problems = problemsOf({
    yaml: { peer: { listenAddress: "x", gossip: { propagatePeerNum: -1 } } },
    env: { CORE_PEER_ADDRESS: "y", CORE_PEER_DELIVERYCLIENT_CONNTIMEOUT: "-2s" },
    overrides: { "peer.nope": 1 },
  });
  assert.deepEqual(problems.map((p) => p.key).sort(), [
    "peer.address",
    "peer.deliveryclient.connTimeout",
    "peer.gossip.propagatePeerNum",
    "peer.listenAddress",
    "peer.nope",
  ]);
});

test("a broken value under a higher layer is never read (viper reads only the winner)", () => {
  const { config } = loadPeerConfig({ yaml: { peer: { listenAddress: "broken" } }, env: { CORE_PEER_LISTENADDRESS: "127.0.0.1:7051" } });
  assert.equal(config.listenAddress, "127.0.0.1:7051");
});

test("TLS notes: clientAuthRequired without TLS, and without client root CAs", () => {
  const off = loadPeerConfig(yamlOf({ tls: { clientAuthRequired: true } }));
  assert.match(off.notes.find((n) => n.key === "peer.tls.clientAuthRequired")?.message ?? "", /no effect/);
  const on = loadPeerConfig(yamlOf({ tls: { enabled: true, clientAuthRequired: true, cert: { file: "c" }, key: { file: "k" }, rootcert: { file: "r" } } }));
  assert.match(on.notes.find((n) => n.key === "peer.tls.clientRootCAs.files")?.message ?? "", /checked against peer\.tls\.rootcert\.file and the TLS CAs of the joined channels' orgs only/);
  const full = loadPeerConfig(
    yamlOf({ address: "peer0:7051", tls: { enabled: true, clientAuthRequired: true, cert: { file: "c" }, key: { file: "k" }, rootcert: { file: "r" }, clientRootCAs: { files: ["r"] } } }),
  );
  assert.ok(!noteKeys(full.notes).some((k) => k.startsWith("peer.tls") || k === "peer.address"));
});

// ---------------------------------------------------------------------------------------------
// parseCoreYaml

test("parseCoreYaml: the whole document; bad YAML is a ConfigError with line and column", () => {
  const text = readFileSync(FIXTURE, "utf8");
  const doc = parseCoreYaml(text) as { peer: { gossip: unknown }; vm: unknown };
  assert.ok(doc.vm !== undefined, "sections outside peer are kept");
  assert.deepEqual(gossipSectionFromCoreYaml(text), doc.peer.gossip);
  assert.equal(parseCoreYaml(""), null);
  for (const [bad, re] of [
    ["peer:\n  id: a\n  id: b\n", /line 3, column 3/],
    ["peer:\n  id: [a\n", /line \d+, column \d+/],
    ["peer:\n\tid: a\n", /line 2, column 1/],
  ] as const) {
    try {
      parseCoreYaml(bad);
      assert.fail(`expected an error for ${JSON.stringify(bad)}`);
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      assert.equal(err.problems[0]?.key, "(core.yaml)");
      assert.match(err.problems[0]?.message ?? "", /is not valid YAML/);
      assert.match(err.message, re);
    }
  }
});
