// The text of lib/replay/trace.proto, kept as a constant so the schema resolves from dist/ and from an
// installed package alike (a test keeps the two equal).
export const TRACE_PROTO = `// Binary trace of one callgate run (\`callgate replay --record OUT\`), read back by \`callgate replay --trace OUT\`.
// lib/replay/trace-schema.ts carries this text for the runtime (a test keeps the two equal).
syntax = "proto3";

package callgate.trace.v1;

message Trace {
  uint32 format_version = 1;
  string callgate_version = 2;
  string scenario_name = 3;
  // "memory" or "net": the driver the run used.
  string driver = 4;
  // The flow runner's RunOptions (without the record callback) as JSON.
  string run_options_json = 5;
  repeated Record records = 6;
  repeated CallResult calls = 7;
}

// One MessageRecord (lib/drivers/message-record.ts).
message Record {
  double t = 1;
  string proto = 2;
  string from = 3;
  string to = 4;
  string msg = 5;
  string call_id = 6;
  bytes bytes = 7;
  Transport transport = 8;
}

message Transport {
  string kind = 1;
  string src = 2;
  uint32 src_port = 3;
  string dst = 4;
  uint32 dst_port = 5;
}

message CallResult {
  string call_id = 1;
  string spec_id = 2;
  // 0 when no final response reached the caller.
  uint32 final_status = 3;
  bool established = 4;
}
`;
