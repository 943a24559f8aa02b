// Generate a two-moons data set and split it into train and test.
import { args, publishOutputs, rng, writeJson } from './common.mjs'

const { samples = '2000', seed = '1' } = args()
const random = rng(Number(seed))
const points = []
for (let i = 0; i < Number(samples); i++) {
  const label = i % 2
  const angle = Math.PI * random()
  const x = label === 0 ? Math.cos(angle) : 1 - Math.cos(angle)
  const y = label === 0 ? Math.sin(angle) : 0.5 - Math.sin(angle)
  points.push([x + (random() - 0.5) * 0.3, y + (random() - 0.5) * 0.3, label])
}
const cut = Math.floor(points.length * 0.8)
writeJson('train.json', points.slice(0, cut))
writeJson('test.json', points.slice(cut))
publishOutputs({ train: cut, test: points.length - cut })
console.log(`prepared ${points.length} samples (${cut} train)`)
