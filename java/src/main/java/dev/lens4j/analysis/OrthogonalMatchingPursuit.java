package dev.lens4j.analysis;

import java.util.Arrays;

/**
 * Orthogonal matching pursuit (Pati et al. 1993): y ≈ Σ_j γ_j atom_j with at most m non-zero γ. Each step picks
 * the atom most correlated (in absolute cosine) with the residual, then refits all chosen coefficients by least
 * squares, so the residual stays orthogonal to every chosen atom. Used by seed 002 to describe a neuron's principal
 * direction with a few concept directions.
 */
public final class OrthogonalMatchingPursuit {
    private OrthogonalMatchingPursuit() {}

    /**
     * @param support   chosen atom indices, in the order picked
     * @param coefficients γ for each chosen atom (same order), in the atoms' own scale
     * @param residualNorm ‖y − Σ γ atom‖
     * @param cosine    cosine between y and its reconstruction
     */
    public record Result(int[] support, double[] coefficients, double residualNorm, double cosine) {}

    /** Sparse code of y over atoms [nAtoms][d] with at most m atoms; stops early when the residual vanishes. */
    public static Result fit(double[] y, double[][] atoms, int m) {
        int n = atoms.length;
        if (m < 1) throw new IllegalArgumentException("OMP needs m >= 1, got " + m);
        if (n == 0) throw new IllegalArgumentException("OMP needs at least one atom");
        int d = y.length;
        for (int a = 0; a < n; a++)
            if (atoms[a].length != d) throw new IllegalArgumentException("atom " + a + " has " + atoms[a].length + " entries, y has " + d);
        Mat.requireFinite(atoms, "atoms");
        Mat.requireFinite(new double[][] {y}, "y");
        double[] norms = new double[n];
        for (int a = 0; a < n; a++) norms[a] = Mat.norm(atoms[a]);
        double yNorm = Mat.norm(y);
        int steps = Math.min(m, Math.min(n, d));
        int[] support = new int[0];
        double[] coef = new double[0];
        double[] residual = y.clone();
        boolean[] used = new boolean[n];
        double tol = 1e-10 * Math.max(yNorm, Double.MIN_NORMAL);
        while (support.length < steps && Mat.norm(residual) > tol) {
            int best = -1;
            double bestScore = 0;
            for (int a = 0; a < n; a++) {
                if (used[a] || norms[a] == 0) continue;
                double score = Math.abs(Mat.dot(residual, atoms[a])) / norms[a];
                if (score > bestScore) { bestScore = score; best = a; }
            }
            if (best < 0 || bestScore <= tol) break;
            int[] next = Arrays.copyOf(support, support.length + 1);
            next[support.length] = best;
            double[] c = leastSquares(y, atoms, next);
            if (c == null) { used[best] = true; continue; } // linearly dependent on the chosen atoms
            used[best] = true;
            support = next;
            coef = c;
            residual = y.clone();
            for (int s = 0; s < support.length; s++) {
                double[] at = atoms[support[s]];
                for (int j = 0; j < d; j++) residual[j] -= coef[s] * at[j];
            }
        }
        double rNorm = Mat.norm(residual);
        double[] recon = new double[d];
        for (int j = 0; j < d; j++) recon[j] = y[j] - residual[j];
        double rn = Mat.norm(recon);
        double cos = yNorm == 0 || rn == 0 ? 0 : Mat.dot(y, recon) / (yNorm * rn);
        return new Result(support, coef, rNorm, cos);
    }

    /** argmin ‖y − A γ‖ over the chosen atoms via the normal equations; null when they are (near) dependent. */
    private static double[] leastSquares(double[] y, double[][] atoms, int[] idx) {
        int k = idx.length;
        double[][] gram = new double[k][k];
        double[] rhs = new double[k];
        for (int a = 0; a < k; a++) {
            rhs[a] = Mat.dot(atoms[idx[a]], y);
            for (int b = 0; b <= a; b++) gram[a][b] = gram[b][a] = Mat.dot(atoms[idx[a]], atoms[idx[b]]);
        }
        try {
            double[] c = Linalg.choleskySolve(gram, rhs);
            for (double v : c) if (!Double.isFinite(v)) return null;
            return c;
        } catch (RuntimeException e) {
            return null;
        }
    }
}
