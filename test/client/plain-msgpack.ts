/**
 * A strict decoder of plain MessagePack, written from the specification and
 * independent of msgpackr: it reads nil, booleans, integers, floats, strings,
 * binaries, arrays and maps with string keys, and refuses every extension
 * type, trailing bytes and truncated input. What it reads, any MessagePack
 * library reads.
 */
export function decodePlain(bytes: Uint8Array): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder('utf-8', { fatal: true });
  let o = 0;
  const need = (n: number) => {
    if (o + n > bytes.length) throw new Error(`truncated at ${o}`);
  };
  const u8 = () => (need(1), view.getUint8(o++));
  const u16 = () => (need(2), (o += 2), view.getUint16(o - 2));
  const u32 = () => (need(4), (o += 4), view.getUint32(o - 4));
  const str = (n: number) => (need(n), (o += n), text.decode(bytes.subarray(o - n, o)));
  const bin = (n: number) => (need(n), (o += n), bytes.slice(o - n, o));
  const arr = (n: number) => Array.from({ length: n }, () => value());
  const map = (n: number) => {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const k = value();
      if (typeof k !== 'string') throw new Error('map key is not a string');
      Object.defineProperty(out, k, { value: value(), enumerable: true, writable: true, configurable: true });
    }
    return out;
  };
  const value = (): unknown => {
    const b = u8();
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    if ((b & 0xf0) === 0x80) return map(b & 0x0f);
    if ((b & 0xf0) === 0x90) return arr(b & 0x0f);
    if ((b & 0xe0) === 0xa0) return str(b & 0x1f);
    switch (b) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: return bin(u8());
      case 0xc5: return bin(u16());
      case 0xc6: return bin(u32());
      case 0xca: need(4); o += 4; return view.getFloat32(o - 4);
      case 0xcb: need(8); o += 8; return view.getFloat64(o - 8);
      case 0xcc: return u8();
      case 0xcd: return u16();
      case 0xce: return u32();
      case 0xcf: need(8); o += 8; return Number(view.getBigUint64(o - 8));
      case 0xd0: need(1); o += 1; return view.getInt8(o - 1);
      case 0xd1: need(2); o += 2; return view.getInt16(o - 2);
      case 0xd2: need(4); o += 4; return view.getInt32(o - 4);
      case 0xd3: need(8); o += 8; return Number(view.getBigInt64(o - 8));
      case 0xd9: return str(u8());
      case 0xda: return str(u16());
      case 0xdb: return str(u32());
      case 0xdc: return arr(u16());
      case 0xdd: return arr(u32());
      case 0xde: return map(u16());
      case 0xdf: return map(u32());
      default: throw new Error(`not plain MessagePack: type byte 0x${b.toString(16)} at ${o - 1} (an extension or reserved)`);
    }
  };
  const v = value();
  if (o !== bytes.length) throw new Error(`${bytes.length - o} trailing bytes`);
  return v;
}
