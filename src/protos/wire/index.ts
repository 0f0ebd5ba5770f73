export { BinaryWriter } from "./writer.js";
