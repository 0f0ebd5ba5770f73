import { parse, YAMLParseError } from "yaml";
import { ConfigError } from "./errors.js";
import { gossipSectionOf } from "./gossip-config.js";

/**
 * Parses the text of a whole core.yaml (YAML 1.2 core schema: `yes`/`no` are strings, not
 * booleans; a key given twice in one mapping is an error) for {@link loadPeerConfig}'s `yaml` layer.
 * Fabric reads it with viper (`core/config/config.go` InitViper).
 * @throws ConfigError if the text is not valid YAML, naming the line and column.
 */
export function parseCoreYaml(text: string): unknown {
  try {
    return parse(text, { uniqueKeys: true });
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const at = err.linePos?.[0];
      const where = at === undefined ? "" : ` at line ${at.line}, column ${at.col}`;
      throw new ConfigError(
        [{ key: "(core.yaml)", source: { kind: "yaml" }, message: `is not valid YAML${where}: ${err.message.split("\n")[0]}` }],
        { cause: err },
      );
    }
    throw err;
  }
}

/**
 * Parses the text of a core.yaml and returns its `peer.gossip` mapping for
 * {@link loadGossipConfig}'s `yaml` layer, or undefined if the document has none.
 * @throws ConfigError if the text is not valid YAML (with line and column) or `peer` is not a mapping.
 */
export function gossipSectionFromCoreYaml(text: string): unknown {
  return gossipSectionOf(parseCoreYaml(text));
}
