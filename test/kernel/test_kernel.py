"""Jupyter kernel conformance for the peftlab kernel (Debian's python3-jupyter-kernel-test).

Run through test/kernel/run_conformance.mjs, which installs the kernelspec into a temporary JUPYTER_PATH. Every check
the suite has is configured except the pager (a TypeScript kernel has no `?` pager payload).
"""
import unittest

import jupyter_kernel_test


class PeftlabKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "peftlab"
    language_name = "typescript"
    file_extension = ".ts"

    code_hello_world = 'console.log("hello, world")'
    code_stderr = 'console.error("some error")'

    # A runtime error must give exactly one iopub output: the structured `error` message (no stderr copy).
    code_generate_error = 'throw new Error("expected failure")'

    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": "const s: string = 'peft'; s.length", "result": "4"},
        {"code": "[1, 2, 3].map((x) => x * 2)", "result": "[ 2, 4, 6 ]"},
        # JSON MIME data stays an object through the Jupyter.display protocol.
        {
            "code": '({ [Symbol.for("Jupyter.display")]: () => ({ "application/json": { a: 1 } }) })',
            "mime": "application/json",
            "result": {"a": 1},
        },
    ]

    code_display_data = [
        {"code": 'display.html("<b>bold</b>")', "mime": "text/html"},
        {"code": 'display.bundle({ "application/vnd.plotly.v1+json": { data: [] } })', "mime": "application/vnd.plotly.v1+json"},
        {"code": 'display.markdown("# title")', "mime": "text/markdown"},
    ]

    code_clear_output = "display.clear(true)"

    completion_samples = [
        {"text": "Math.ma", "matches": {"max"}},
        {"text": "const completeMe = 1; completeM", "matches": {"completeMe"}},
    ]

    complete_code_samples = ["1 + 1", "const x = 1;", "function f() { return 1; }"]
    incomplete_code_samples = ["function f() {", "const a = [1,", "if (true) {"]
    invalid_code_samples = ["const 1x = 2;", "let = = ;"]

    code_inspect_sample = "Math.max"

    supported_history_operations = ("tail", "range", "search")
    code_history_pattern = "6 *"

    @unittest.skip("not applicable: a TypeScript kernel has no `?` pager payload")
    def test_pager(self):
        pass


class PeftlabKernelBehaviour(unittest.TestCase):
    """What the generic suite does not check: result shapes, traceback mapping, stop_on_error timing."""

    kernel_name = "peftlab"

    @classmethod
    def setUpClass(cls):
        from jupyter_client.manager import start_new_kernel

        cls.km, cls.kc = start_new_kernel(kernel_name=cls.kernel_name)

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel()

    def run_cell(self, code, **kw):
        outputs = []
        reply = self.kc.execute_interactive(code, timeout=60, output_hook=outputs.append, **kw)
        return reply, [m for m in outputs if m["msg_type"] not in ("status", "execute_input")]

    def reply_to(self, msg_id):
        while True:
            m = self.kc.get_shell_msg(timeout=30)
            if m["parent_header"].get("msg_id") == msg_id:
                return m

    def test_kernel_info_status_and_language(self):
        reply = self.reply_to(self.kc.kernel_info())
        c = reply["content"]
        self.assertEqual(c["status"], "ok")
        self.assertEqual(c["language_info"]["name"], "typescript")
        self.assertEqual(c["language_info"]["mimetype"], "text/typescript")

    def test_comm_info_reply_type(self):
        reply = self.reply_to(self.kc.comm_info())
        self.assertEqual(reply["msg_type"], "comm_info_reply")
        self.assertEqual(reply["content"], {"status": "ok", "comms": {}})

    def test_last_value_not_printed_twice(self):
        reply, outs = self.run_cell("40 + 2")
        self.assertEqual(reply["content"]["status"], "ok")
        self.assertEqual([m["msg_type"] for m in outs], ["execute_result"])

    def test_error_traceback_maps_to_cell_lines(self):
        code = "type T = {\n  a: number;\n};\nfunction boom(t: T): number {\n  throw new RangeError('bad ' + t.a);\n}\nboom({ a: 3 });"
        reply, outs = self.run_cell(code)
        c = reply["content"]
        self.assertEqual(c["status"], "error")
        self.assertEqual(c["ename"], "RangeError")
        self.assertEqual(c["evalue"], "bad 3")
        tb = "\n".join(c["traceback"])
        self.assertIn("line 5", tb)
        self.assertIn("line 7", tb)
        self.assertEqual([m["msg_type"] for m in outs], ["error"])

    def test_compile_error_is_structured(self):
        reply, outs = self.run_cell("const n: number = 'text';")
        c = reply["content"]
        self.assertEqual(c["ename"], "CompileError")
        self.assertIn("1:7", c["evalue"])
        self.assertEqual([m["msg_type"] for m in outs], ["error"])

    def test_request_right_after_error_runs(self):
        # tslab answers requests within 200 ms of an error with a silent abort; this kernel must not.
        self.run_cell("throw new Error('first')")
        reply, outs = self.run_cell("'after'")
        self.assertEqual(reply["content"]["status"], "ok")

    def test_stop_on_error_aborts_queued(self):
        # The failing cell runs for 0.5 s so the second request is surely queued behind it (what stop_on_error
        # aborts); an instant failure would race the second request's arrival on a loaded machine.
        self.kc.execute("const t0 = Date.now(); while (Date.now() - t0 < 500) {} throw new Error('x')")
        second = self.kc.execute("1")
        statuses = {}
        while second not in statuses:
            m = self.kc.get_shell_msg(timeout=30)
            statuses[m["parent_header"]["msg_id"]] = m["content"]["status"]
        self.assertEqual(statuses[second], "aborted")
        reply, _ = self.run_cell("2")
        self.assertEqual(reply["content"]["status"], "ok")

    def test_stop_on_error_false_keeps_queue(self):
        self.kc.execute("const t1 = Date.now(); while (Date.now() - t1 < 500) {} throw new Error('x')", stop_on_error=False)
        second = self.kc.execute("1")
        statuses = {}
        while second not in statuses:
            m = self.kc.get_shell_msg(timeout=30)
            statuses[m["parent_header"]["msg_id"]] = m["content"]["status"]
        self.assertEqual(statuses[second], "ok")

    def test_display_update_and_json_objects(self):
        code = (
            "const h = display.live('dash');\n"
            "h.render({ 'application/json': { step: 1 }, 'text/plain': 's1' });\n"
            "h.render({ 'application/json': { step: 2 }, 'text/plain': 's2' });"
        )
        reply, outs = self.run_cell(code)
        self.assertEqual(reply["content"]["status"], "ok")
        kinds = [m["msg_type"] for m in outs]
        self.assertEqual(kinds, ["display_data", "update_display_data"])
        self.assertEqual(outs[1]["content"]["transient"]["display_id"], "dash")
        self.assertEqual(outs[1]["content"]["data"]["application/json"], {"step": 2})

    def test_prelude_names_are_typed(self):
        reply, outs = self.run_cell("tf.tensor([1, 2, 3]).shape.length + aq.table({ a: [1] }).numRows()")
        self.assertEqual(reply["content"]["status"], "ok", reply["content"])
        results = [m for m in outs if m["msg_type"] == "execute_result"]
        self.assertEqual(results[0]["content"]["data"]["text/plain"], "2", outs)


if __name__ == "__main__":
    unittest.main()
