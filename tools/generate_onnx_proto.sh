#!/usr/bin/env bash
# Regenerates Sources/ONNXProto/onnx.pb.swift from ONNX's onnx.proto with swift-protobuf's
# generator. The generated file is committed, so builds need neither protoc nor the generator.
#
#   tools/generate_onnx_proto.sh [ONNX_PROTO]
#
# ONNX_PROTO defaults to the onnx.proto that the `onnx` Python package ships
# (`pip install onnx==1.23.2`). Needs protoc (Debian: protobuf-compiler) and protoc-gen-swift
# from swift-protobuf 1.39.0 (`swift build -c release --product protoc-gen-swift` in a checkout
# of it) on PATH, or named by PROTOC_GEN_SWIFT.
set -euo pipefail
cd "$(dirname "$0")/.."
proto="${1:-$(python3 -c 'import onnx, os; print(os.path.join(os.path.dirname(onnx.__file__), "onnx.proto"))')}"
plugin="${PROTOC_GEN_SWIFT:-$(command -v protoc-gen-swift)}"
out=Sources/ONNXProto
cp "$proto" "$out/onnx.proto"
protoc --plugin=protoc-gen-swift="$plugin" --proto_path="$out" \
  --swift_opt=Visibility=Public --swift_out="$out" "$out/onnx.proto"
echo "wrote $out/onnx.pb.swift from $proto"
