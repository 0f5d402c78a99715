"""Jupyter kernel conformance for the peftlab kernel (Debian's python3-jupyter-kernel-test).

Run through test/kernel/run_conformance.mjs, which installs the kernelspec into a temporary JUPYTER_PATH and runs this
file from a temporary folder outside the repository (so the kernel starts there, as for a user's own notebook). Every
check the suite has is configured except the pager (a TypeScript kernel has no `?` pager payload).
"""
import unittest

import jupyter_kernel_test


class PeftlabKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "peftlab"
    language_name = "typescript"
    file_extension = ".ts"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The first cell waits for start-up (TypeScript warm-up, prelude, backend choice), which can outlast the
        # suite's 15 s timeout on a busy machine, and carries the backend note: run it here.
        cls.kc.execute_interactive("0", timeout=180, output_hook=lambda m: None)

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
        # tslab's own display API, exactly as plain-tslab notebooks write it.
        {"code": 'import * as tslab from "tslab"; tslab.display.html("<b>hi</b>")', "mime": "text/html"},
        {"code": 'import * as tslab from "tslab"; tslab.display.markdown("*hi*")', "mime": "text/markdown"},
        {"code": 'import * as tslab from "tslab"; tslab.display.svg("<svg></svg>")', "mime": "image/svg+xml"},
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


class KernelCase(unittest.TestCase):
    """One kernel for the class, its start-up note taken by a first cell; helpers to run cells and read replies."""

    kernel_name = "peftlab"

    @classmethod
    def setUpClass(cls):
        from jupyter_client.manager import start_new_kernel

        cls.km, cls.kc = start_new_kernel(kernel_name=cls.kernel_name)
        # The first cell also carries start-up's note (the backend); take it here so tests see only their own outputs.
        cls.kc.execute_interactive("0", timeout=180, output_hook=lambda m: None)

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

class PeftlabKernelBehaviour(KernelCase):
    """What the generic suite does not check: result shapes, traceback mapping, stop_on_error timing."""

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

    def test_prelude_dashboard_one_liner(self):
        code = (
            "const dsh = dashboard({ runs: 2, title: 'sweep' });\n"
            "for (let r = 0; r < 2; r++) {\n"
            "  dsh.onTrainBegin({ epochs: 1, stepsPerEpoch: 1 });\n"
            "  dsh.onBatchEnd({ epoch: 0, step: 1, loss: 0.5 });\n"
            "  dsh.onTrainEnd();\n"
            "}"
        )
        reply, outs = self.run_cell(code)
        self.assertEqual(reply["content"]["status"], "ok", reply["content"])
        kinds = [m["msg_type"] for m in outs]
        self.assertEqual(kinds[0], "display_data")
        self.assertEqual(set(kinds[1:]), {"update_display_data"})
        last = outs[-1]["content"]["data"]["application/json"]
        self.assertEqual((last["run"], last["runs"], last["finished"]), (2, 2, True))

    def test_prelude_names_are_typed(self):
        reply, outs = self.run_cell("tf.tensor([1, 2, 3]).shape.length + aq.table({ a: [1] }).numRows()")
        self.assertEqual(reply["content"]["status"], "ok", reply["content"])
        results = [m for m in outs if m["msg_type"] == "execute_result"]
        self.assertEqual(results[0]["content"]["data"]["text/plain"], "2", outs)


def shell_replies(kc, msg_ids):
    """Shell replies by msg_id, until every one in msg_ids has arrived."""
    out = {}
    while not set(msg_ids) <= set(out):
        m = kc.get_shell_msg(timeout=60)
        out[m["parent_header"]["msg_id"]] = m
    return out


class PeftlabExecutionCounts(KernelCase):
    """Execution counts as ipykernel gives them (aborted, silent, store_history, stop_on_error)."""

    def count(self):
        reply, _ = self.run_cell("0")
        return reply["content"]["execution_count"]

    def test_aborted_reply_has_no_count_and_takes_none(self):
        before = self.count()
        first = self.kc.execute("const t2 = Date.now(); while (Date.now() - t2 < 500) {} throw new Error('x')")
        skipped = [self.kc.execute("1"), self.kc.execute("2")]
        replies = shell_replies(self.kc, [first, *skipped])
        self.assertEqual(replies[first]["content"]["execution_count"], before + 1)
        for mid in skipped:
            c = replies[mid]["content"]
            self.assertEqual(c["status"], "aborted")
            # ipykernel's aborted replies have no execution_count: the frontend leaves the prompt `In [ ]`.
            self.assertNotIn("execution_count", c)
        self.assertEqual(self.count(), before + 2)

    def test_silent_publishes_nothing_and_takes_no_count(self):
        before = self.count()
        reply, outs = self.run_cell("console.log('quiet'); 5", silent=True)
        self.assertEqual(reply["content"]["status"], "ok")
        self.assertEqual(reply["content"]["execution_count"], before)
        self.assertEqual(outs, [])
        self.assertEqual(self.count(), before + 1)

    def test_store_history_false_shows_next_count_but_takes_none(self):
        before = self.count()
        seen = []
        reply = self.kc.execute_interactive("7", store_history=False, timeout=60, output_hook=seen.append)
        inputs = [m for m in seen if m["msg_type"] == "execute_input"]
        results = [m for m in seen if m["msg_type"] == "execute_result"]
        self.assertEqual(inputs[0]["content"]["execution_count"], before + 1)
        self.assertEqual(results[0]["content"]["execution_count"], before + 1)
        self.assertEqual(reply["content"]["execution_count"], before)
        self.assertEqual(self.count(), before + 1)
        hist = self.reply_to(self.kc.history(hist_access_type="tail", n=50))["content"]["history"]
        self.assertNotIn("7", [h[2] for h in hist])

    def test_error_takes_a_count(self):
        before = self.count()
        reply, _ = self.run_cell("throw new Error('counted')")
        self.assertEqual(reply["content"]["execution_count"], before + 1)
        self.assertEqual(self.count(), before + 2)


class PeftlabStartup(unittest.TestCase):
    """A fresh kernel: the prelude chose the backend, inspection works at once, tfjs's banner never shows."""

    @classmethod
    def setUpClass(cls):
        from jupyter_client.manager import start_new_kernel

        cls.km, cls.kc = start_new_kernel(kernel_name="peftlab", startup_timeout=120)

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel()

    def inspect(self, code, cursor=None, detail=0):
        mid = self.kc.inspect(code, len(code) if cursor is None else cursor, detail)
        return shell_replies(self.kc, [mid])[mid]["content"]

    def run_cell(self, code):
        outs = []
        reply = self.kc.execute_interactive(code, timeout=120, output_hook=outs.append)
        return reply, [m for m in outs if m["msg_type"] not in ("status", "execute_input")]

    def test_1_inspect_right_after_start_and_inside_calls(self):
        # The very first request of this kernel: it waits for the prelude instead of answering `any`.
        c = self.inspect("peftlab.loraScaling(")
        self.assertTrue(c["found"], c)
        text = c["data"]["text/plain"]
        self.assertIn("loraScaling(", text)
        self.assertNotEqual(text.strip(), "any")
        c = self.inspect("tf.tensor(")
        self.assertTrue(c["found"], c)
        self.assertIn("tensor(", c["data"]["text/plain"])
        c = self.inspect("tf.tensor([1, 2], ")
        self.assertIn("tensor(", c["data"]["text/plain"])
        c = self.inspect("aq.table(")
        self.assertTrue(c["found"], c)
        self.assertIn("table(", c["data"]["text/plain"])
        c = self.inspect("peftlab.loraScaling")  # a member access, cursor at its end
        self.assertIn("loraScaling(", c["data"]["text/plain"])

    def test_1b_inspect_detail_levels(self):
        short = self.inspect("tf.tensor(", detail=0)["data"]["text/plain"]
        full = self.inspect("tf.tensor(", detail=1)["data"]["text/plain"]
        self.assertIn("@param", short)  # TSDoc summary and parameters at detail 0
        self.assertGreater(len(full), len(short))  # every other tag (@doc, …) at detail 1
        self.assertFalse(self.inspect("const zz = 1;\n", cursor=15)["found"])

    def test_2_first_cell_shows_backend_note_not_stderr(self):
        reply, outs = self.run_cell("tf.getBackend()")
        self.assertEqual(reply["content"]["status"], "ok", reply["content"])
        kinds = [m["msg_type"] for m in outs]
        self.assertNotIn("stream", kinds, outs)
        notes = [m for m in outs if m["msg_type"] == "display_data"]
        self.assertEqual(len(notes), 1, outs)
        self.assertIn("[peftlab] backend", notes[0]["content"]["data"]["text/plain"])
        result = [m for m in outs if m["msg_type"] == "execute_result"][0]
        self.assertNotEqual(result["content"]["data"]["text/plain"], "'cpu'")
        # Only the first cell carries it.
        _, outs2 = self.run_cell("1")
        self.assertEqual([m["msg_type"] for m in outs2], ["execute_result"])

    def test_3_no_tfjs_node_banner(self):
        code = 'const prevB = tf.getBackend(); await tf.setBackend("cpu"); tf.tensor([1, 2]).dataSync(); await tf.setBackend(prevB);'
        reply, outs = self.run_cell(code)
        self.assertEqual(reply["content"]["status"], "ok", reply["content"])
        self.assertEqual([m for m in outs if m["msg_type"] == "stream"], [])

    def test_4_tslab_new_display_updates_in_place(self):
        code = 'import * as tslab from "tslab";\nconst d = tslab.newDisplay();\nd.text("one");\nd.text("two");'
        reply, outs = self.run_cell(code)
        self.assertEqual(reply["content"]["status"], "ok", reply["content"])
        self.assertEqual([m["msg_type"] for m in outs], ["display_data", "update_display_data"])
        ids = {m["content"]["transient"]["display_id"] for m in outs}
        self.assertEqual(len(ids), 1)
        self.assertEqual(outs[1]["content"]["data"]["text/plain"], "two")


if __name__ == "__main__":
    unittest.main()
