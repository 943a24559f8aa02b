// Logistic regression on polynomial features, trained by batch gradient descent.
import { args, features, predict, publishOutputs, upstream, writeJson } from './common.mjs'

const { lr = '0.1', degree = '1', epochs = '50' } = args()
const data = upstream('prepare', 'train.json').map(([x, y, label]) => [features(x, y, Number(degree)), label])
let weights = new Array(data[0][0].length).fill(0)
let loss = 0
for (let epoch = 0; epoch < Number(epochs); epoch++) {
  const gradient = new Array(weights.length).fill(0)
  loss = 0
  for (const [f, label] of data) {
    const p = predict(weights, f)
    loss -= label * Math.log(p + 1e-12) + (1 - label) * Math.log(1 - p + 1e-12)
    for (let i = 0; i < f.length; i++) gradient[i] += (p - label) * f[i]
  }
  weights = weights.map((w, i) => w - (Number(lr) * gradient[i]) / data.length)
  loss /= data.length
}
writeJson('model.json', { lr: Number(lr), degree: Number(degree), weights })
publishOutputs({ loss })
console.log(`lr=${lr} degree=${degree}: final loss ${loss.toFixed(4)}`)
