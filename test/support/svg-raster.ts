/**
 * SVG pictures checked as people see them: rendered by librsvg's `rsvg-convert` (Debian
 * librsvg2-bin, installed by test/setup.sh) to PNG, decoded here (8-bit RGB/RGBA, not interlaced:
 * what rsvg-convert writes) so a test can read pixel colors.
 */
import { spawn } from 'node:child_process'
import { inflateSync } from 'node:zlib'

export interface Raster {
  readonly width: number
  readonly height: number
  /** [r, g, b, a] of the pixel at column x, row y. */
  pixel(x: number, y: number): readonly [number, number, number, number]
}

export async function rasterizeSvg(svg: string): Promise<Raster> {
  const png = await new Promise<Buffer>((resolve, reject) => {
    const child = spawn('rsvg-convert', ['--format=png', '--background-color=white'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    const out: Buffer[] = []
    let err = ''
    child.stdout.on('data', (c: Buffer) => out.push(c))
    child.stderr.on('data', (c) => {
      err += String(c)
    })
    child.on('error', (e) =>
      reject(new Error(`rsvg-convert could not run (${e.message}); install Debian's librsvg2-bin (test/setup.sh)`)),
    )
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`rsvg-convert: ${err}`))))
    child.stdin.end(svg)
  })
  return decodePng(png)
}

export function decodePng(png: Buffer): Raster {
  if (png.subarray(0, 8).toString('hex') !== '89504e470d0a1a0a') throw new Error('not a PNG')
  let offset = 8
  let width = 0
  let height = 0
  let channels = 0
  const data: Buffer[] = []
  while (offset < png.length) {
    const length = png.readUInt32BE(offset)
    const type = png.toString('ascii', offset + 4, offset + 8)
    const body = png.subarray(offset + 8, offset + 8 + length)
    if (type === 'IHDR') {
      width = body.readUInt32BE(0)
      height = body.readUInt32BE(4)
      const [depth, colorType, , , interlace] = [body[8], body[9], body[10], body[11], body[12]]
      if (depth !== 8 || (colorType !== 6 && colorType !== 2) || interlace !== 0)
        throw new Error(`unsupported PNG: depth ${depth}, color type ${colorType}, interlace ${interlace}`)
      channels = colorType === 6 ? 4 : 3
    } else if (type === 'IDAT') data.push(body)
    else if (type === 'IEND') break
    offset += 12 + length
  }
  const raw = inflateSync(Buffer.concat(data))
  const stride = width * channels
  const pixels = Buffer.alloc(height * stride)
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1))
    for (let i = 0; i < stride; i++) {
      const left = i >= channels ? (pixels[y * stride + i - channels] as number) : 0
      const up = y > 0 ? (pixels[(y - 1) * stride + i] as number) : 0
      const upLeft = y > 0 && i >= channels ? (pixels[(y - 1) * stride + i - channels] as number) : 0
      const x = line[i] as number
      let value: number
      if (filter === 0) value = x
      else if (filter === 1) value = x + left
      else if (filter === 2) value = x + up
      else if (filter === 3) value = x + ((left + up) >> 1)
      else if (filter === 4) value = x + paeth(left, up, upLeft)
      else throw new Error(`bad PNG filter ${filter} on row ${y}`)
      pixels[y * stride + i] = value & 0xff
    }
  }
  return {
    width,
    height,
    pixel(x, y) {
      const at = y * stride + x * channels
      return [
        pixels[at] as number,
        pixels[at + 1] as number,
        pixels[at + 2] as number,
        channels === 4 ? (pixels[at + 3] as number) : 255,
      ]
    },
  }
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c
  const pa = Math.abs(p - a)
  const pb = Math.abs(p - b)
  const pc = Math.abs(p - c)
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c
}

/** Whether a pixel is this #rrggbb color, within a small tolerance per channel. */
export function isColor(pixel: readonly number[], hex: string, tolerance = 6): boolean {
  const want = [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16))
  return want.every((w, i) => Math.abs((pixel[i] as number) - w) <= tolerance)
}
