#!/usr/bin/env python3
"""Our gRPC layer against the real gRPC stack (python3-grpcio) and raw sockets: unary calls,
50 concurrent calls, deadlines, UNIMPLEMENTED, RESOURCE_EXHAUSTED, error status with an encoded
message, server streaming and cancel, and garbage on the wire that must not hurt the server."""
import concurrent.futures
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import grpc

BUILD = os.environ["NETDRA_BUILD_DIR"]


class GrpcLayer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp()
        cls.sock = os.path.join(cls.dir, "test.sock")
        cls.proc = subprocess.Popen([os.path.join(BUILD, "tests", "grpc", "grpc_test_server"), cls.sock],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert cls.proc.stdout.readline().strip() == "ready"
        cls.channel = grpc.insecure_channel(f"unix:{cls.sock}")

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        time.sleep(2.5)  # the Slow handler's late replies are released before shutdown
        cls.proc.send_signal(signal.SIGTERM)
        out, err = cls.proc.communicate(timeout=20)
        cls.counters = json.loads(out.strip().splitlines()[-1])
        if cls.proc.returncode != 0 or "ERROR" in err:
            raise AssertionError(f"server exit {cls.proc.returncode}: {err[-2000:]}")

    def unary(self, method):
        return self.channel.unary_unary(method, request_serializer=None, response_deserializer=None)

    def test_echo(self):
        self.assertEqual(self.unary("/test.Test/Echo")(b"hello", timeout=5), b"hello")
        self.assertEqual(self.unary("/test.Test/Echo")(b"", timeout=5), b"")
        big = os.urandom(512 * 1024)
        self.assertEqual(self.unary("/test.Test/Echo")(big, timeout=5), big)

    def test_concurrent(self):
        call = self.unary("/test.Test/Echo")
        with concurrent.futures.ThreadPoolExecutor(max_workers=50) as ex:
            results = list(ex.map(lambda i: call(str(i).encode(), timeout=10), range(50)))
        self.assertEqual(results, [str(i).encode() for i in range(50)])

    def test_deadline(self):
        t = time.time()
        with self.assertRaises(grpc.RpcError) as e:
            self.unary("/test.Test/Slow")(b"x", timeout=0.3)
        self.assertEqual(e.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
        self.assertLess(time.time() - t, 1.5)
        self.assertEqual(self.unary("/test.Test/Echo")(b"after", timeout=5), b"after")

    def test_unknown_method(self):
        with self.assertRaises(grpc.RpcError) as e:
            self.unary("/test.Test/Nope")(b"x", timeout=5)
        self.assertEqual(e.exception.code(), grpc.StatusCode.UNIMPLEMENTED)
        self.assertIn("/test.Test/Nope", e.exception.details())

    def test_oversized(self):
        with self.assertRaises(grpc.RpcError) as e:
            self.unary("/test.Test/Echo")(b"x" * (2 << 20), timeout=10)
        self.assertEqual(e.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)

    def test_error_status_and_message(self):
        with self.assertRaises(grpc.RpcError) as e:
            self.unary("/test.Test/Fail")(b"x", timeout=5)
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(e.exception.details(), "bad request: 100% wrong, café")

    def test_stream_and_cancel(self):
        stream = self.channel.unary_stream("/test.Test/Stream", request_serializer=None, response_deserializer=None)
        self.assertEqual(list(stream(b"", timeout=10)), [f"message {i}".encode() for i in range(5)])
        it = stream(b"", timeout=10)
        self.assertEqual(next(it), b"message 0")
        it.cancel()
        time.sleep(0.3)
        self.assertEqual(self.unary("/test.Test/Echo")(b"still", timeout=5), b"still")

    def test_garbage(self):
        preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        junk = [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", os.urandom(4096), preface + os.urandom(2048),
                preface[:10], preface + b"\x00\x00\x04\x04\x00\x00\x00\x00\x00" + b"\xff" * 64,
                preface + b"\x00\x10\x00\x01\x05\x00\x00\x00\x01" + b"\x00" * 10]
        for payload in junk:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(5)
            s.connect(self.sock)
            try:
                s.sendall(payload)
                s.shutdown(socket.SHUT_WR)
                while s.recv(65536):
                    pass  # the server answers (GOAWAY) and closes, or just closes
            except (ConnectionResetError, BrokenPipeError):
                pass
            s.close()
        self.assertEqual(self.unary("/test.Test/Echo")(b"alive", timeout=5), b"alive")


if __name__ == "__main__":
    result = unittest.main(verbosity=2, exit=False).result
    ok = result.wasSuccessful()
    if ok:
        c = getattr(GrpcLayer, "counters", {})
        print(f"server counters: {c}")
        if c.get("closed_streams", 0) < 1 or c.get("finished_streams", 0) < 1:
            print("FAIL: the cancelled stream was not reported closed, or no stream finished")
            ok = False
    print(f"{result.testsRun - len(result.failures) - len(result.errors)} passed, "
          f"{len(result.failures) + len(result.errors) + (0 if ok else 1 if result.wasSuccessful() else 0)} failed")
    sys.exit(0 if ok else 1)
