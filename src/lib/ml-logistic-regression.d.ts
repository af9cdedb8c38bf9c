declare module "ml-logistic-regression" {
  import type { Matrix } from "ml-matrix"
  interface TwoClassClassifier {
    readonly weights: Matrix
  }
  export default class LogisticRegression {
    constructor(options?: { numSteps?: number; learningRate?: number })
    readonly classifiers: Array<TwoClassClassifier>
    readonly numberClasses: number
    train(X: Matrix, Y: Matrix): void
    predict(X: Matrix): Array<number>
  }
}
