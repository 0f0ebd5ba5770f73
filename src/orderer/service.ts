import type * as grpc from "@grpc/grpc-js";
import { passBytes, takeBytes } from "../comm/grpc/index.js";

/** Fabric's `orderer.AtomicBroadcast` method paths. */
export const BROADCAST_PATH = "/orderer.AtomicBroadcast/Broadcast";
export const DELIVER_PATH = "/orderer.AtomicBroadcast/Deliver";


/** `orderer.AtomicBroadcast` carrying raw bytes (Envelope in, BroadcastResponse / DeliverResponse out). */
export const ATOMIC_BROADCAST_SERVICE: grpc.ServiceDefinition = {
  Broadcast: {
    path: BROADCAST_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: passBytes,
    requestDeserialize: takeBytes,
    responseSerialize: passBytes,
    responseDeserialize: takeBytes,
  },
  Deliver: {
    path: DELIVER_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: passBytes,
    requestDeserialize: takeBytes,
    responseSerialize: passBytes,
    responseDeserialize: takeBytes,
  },
};
