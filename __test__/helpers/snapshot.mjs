// Every entry of a backend as [key, value] strings in hex, to prove nothing changed.
export async function snapshot(b) {
  const out = []
  for await (const [k, v] of b.entries()) out.push([k.toString('hex'), v.toString('hex')])
  return out
}
