import { strict as assert } from "node:assert";
import { childMessage, decodeMessage, DELIM, encodeMessage, requestMessage, sign } from "../../lib/jupyter/wire";

describe("Jupyter wire protocol (lib/jupyter/wire)", () => {
  it("round-trips a signed message with identities", () => {
    const req = requestMessage("execute_request", "s1", { code: "1" });
    req.identities = [Buffer.from("client-id")];
    const frames = encodeMessage("secret", req);
    assert.ok(frames[1].equals(DELIM));
    const back = decodeMessage("secret", frames);
    assert.deepEqual(back.content, { code: "1" });
    assert.equal(back.identities[0].toString(), "client-id");
    const reply = childMessage(back, "execute_reply", { status: "ok" });
    assert.equal(reply.parent_header.msg_id, req.header.msg_id);
    assert.equal(reply.header.session, "s1");
    assert.equal(reply.identities[0].toString(), "client-id");
  });

  it("rejects a wrong signature and accepts unsigned messages when the key is empty", () => {
    const frames = encodeMessage("secret", requestMessage("kernel_info_request", "s", {}));
    assert.throws(() => decodeMessage("other", frames), /signature/);
    assert.equal(sign("", ["x"]), "");
    assert.deepEqual(decodeMessage("", encodeMessage("", requestMessage("x", "s", { a: 1 }))).content, { a: 1 });
  });
});
