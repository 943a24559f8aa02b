// Score every trained model of the sweep on the held-out split.
import { readdirSync } from 'node:fs'
import { features, predict, publishOutputs, runDir, upstream, writeJson } from './common.mjs'

const test = upstream('prepare', 'test.json')
const scores = []
for (const task of readdirSync(runDir)
  .filter((name) => /^train\.\d+$/.test(name))
  .sort()) {
  let model
  try {
    model = upstream(task, 'model.json')
  } catch {
    continue
  }
  const correct = test.filter(
    ([x, y, label]) => (predict(model.weights, features(x, y, model.degree)) > 0.5 ? 1 : 0) === label,
  )
  scores.push({ task, lr: model.lr, degree: model.degree, accuracy: correct.length / test.length })
}
if (scores.length === 0) throw new Error('no trained model found')
scores.sort((a, b) => b.accuracy - a.accuracy)
writeJson('scores.json', scores)
publishOutputs({ best: scores[0].task, accuracy: scores[0].accuracy })
console.log(`best: ${scores[0].task} accuracy ${scores[0].accuracy.toFixed(3)}`)
