// packets.ts — GDB remote serial protocol framing (gdb manual, "Overview" of the remote protocol):
// `$<data>#<2 hex checksum>`, acknowledged by `+` (or `-` to ask for a resend), with `}` escaping
// (`}` then the byte XOR 0x20) for `$ # } *`, and a bare 0x03 byte for an interrupt (Ctrl-C).
//
// The reader is a state machine over the byte stream with a bounded buffer: a packet longer than MAX_PACKET
// is consumed and dropped (one error), garbage between packets is skipped and counted, a bad checksum is
// answered with `-`. Nothing the client sends can grow memory beyond MAX_PACKET bytes.

/** The largest packet body accepted (advertised as PacketSize in qSupported). */
export const MAX_PACKET = 16384;

export type Incoming =
  | { kind: "packet"; data: string }   // latin1: one char per byte (binary X packets survive)
  | { kind: "interrupt" }
  | { kind: "ack" }
  | { kind: "nack" }
  | { kind: "error"; message: string }; // a malformed packet (already nacked by the caller)

export function checksum(s: string): number {
  let c = 0;
  for (let i = 0; i < s.length; i++) c = (c + (s.charCodeAt(i) & 0xff)) & 0xff;
  return c;
}

/** Frame a reply: escapes the protocol's special characters (binary-safe for latin1 strings). */
export function frame(data: string): string {
  let body = "";
  for (let i = 0; i < data.length; i++) {
    const ch = data[i];
    body += ch === "$" || ch === "#" || ch === "}" || ch === "*" ? "}" + String.fromCharCode(ch.charCodeAt(0) ^ 0x20) : ch;
  }
  return `$${body}#${checksum(body).toString(16).padStart(2, "0")}`;
}

const HEX = (c: number) => (c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1);

export class PacketReader {
  private state: "idle" | "body" | "sum1" | "sum2" = "idle";
  private readonly buf = new Uint8Array(MAX_PACKET);
  private len = 0;
  private overflow = false;
  private sum = 0;
  private got = 0;
  /** bytes skipped outside packets (noise) */
  garbage = 0;

  /** Consume a chunk; returns the events it completes, in order. */
  feed(chunk: Uint8Array): Incoming[] {
    const out: Incoming[] = [];
    for (const b of chunk) {
      switch (this.state) {
        case "idle":
          if (b === 0x24) { this.state = "body"; this.len = 0; this.sum = 0; this.overflow = false; } // $
          else if (b === 0x03) out.push({ kind: "interrupt" });
          else if (b === 0x2b) out.push({ kind: "ack" });
          else if (b === 0x2d) out.push({ kind: "nack" });
          else this.garbage++;
          break;
        case "body":
          if (b === 0x23) { this.state = "sum1"; break; } // #
          if (b === 0x24) { // a new packet started inside one: the first was truncated
            out.push({ kind: "error", message: "truncated packet (a new '$' before '#')" });
            this.len = 0; this.sum = 0; this.overflow = false;
            break;
          }
          this.sum = (this.sum + b) & 0xff;
          if (this.len < MAX_PACKET) this.buf[this.len++] = b;
          else this.overflow = true;
          break;
        case "sum1":
        case "sum2": {
          const h = HEX(b);
          if (h < 0) {
            out.push({ kind: "error", message: "malformed checksum" });
            this.state = "idle";
            break;
          }
          if (this.state === "sum1") { this.got = h << 4; this.state = "sum2"; break; }
          this.got |= h;
          this.state = "idle";
          if (this.overflow) out.push({ kind: "error", message: `packet longer than ${MAX_PACKET} bytes dropped` });
          else if (this.got !== this.sum) out.push({ kind: "error", message: `bad checksum (0x${this.got.toString(16)}, computed 0x${this.sum.toString(16)})` });
          else out.push({ kind: "packet", data: unescape(this.buf.subarray(0, this.len)) });
          break;
        }
      }
    }
    return out;
  }
}

/** Undo `}` escapes (used by binary X packets; harmless elsewhere since `}` never appears unescaped). */
function unescape(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 0x7d && i + 1 < b.length) { s += String.fromCharCode(b[++i] ^ 0x20); continue; }
    s += String.fromCharCode(b[i]);
  }
  return s;
}
