// The gated activations' nonlinearities, shared by the element-wise GLU and the matmul kernels that
// apply the GLU to their output.

// erf with |error| < 1.2e-7 (Numerical Recipes' erfc Chebyshev fit), as GLSL has no erf.
float erf_approx(float x) {
  float z = abs(x);
  float t = 1.0 / (1.0 + 0.5 * z);
  float r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
            t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
            t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0.0 ? 1.0 - r : r - 1.0;
}

float silu(float x) { return x / (1.0 + exp(-x)); }
float gelu(float x) { return 0.5 * x * (1.0 + erf_approx(x * 0.70710678118654752)); }

// Gate/up projections store their rows interleaved in groups of G (G gate rows, then the same G up
// rows): output column c reads gate row glu_gate_row(c, G) and up row glu_gate_row(c, G) + G, and a
// gate row n is output column glu_column(n, G).
uint glu_gate_row(uint c, uint G) { return (c / G) * 2u * G + c % G; }
uint glu_column(uint n, uint G) { return (n / (2u * G)) * G + n % G; }
