package dev.lens4j.analysis;

import dev.lens4j.tensor.Tensor;

import java.util.Arrays;

/**
 * TransformerLens's FactoredMatrix: the product A @ B kept as its factors, A [..., ldim, mdim] and B [..., mdim,
 * rdim], with leading (batch) dimensions such as [n_layers, n_heads]. The product is never formed unless asked
 * ({@link #AB}); svd, eigenvalues and norm work through the small inner dimension, as TL does (svd of each factor,
 * then of the mdim-sized middle; eigenvalues of BA). Values are double precision, row-major; a batch element is
 * addressed by its flat index over the leading dimensions. Immutable; the SVD is computed once and kept.
 */
public final class FactoredMatrix {
    private final double[] a, b;
    private final int[] lead;
    private final int batch, ldim, mdim, rdim;
    private Svd svd;

    /** U [..., ldim, k], S [..., k] descending, Vh [..., rdim, k] (TL's naming: V itself, so AB = U diag(S) Vhᵀ); k = min(ldim, mdim, rdim). */
    public record Svd(double[] U, double[] S, double[] Vh, int k) {}

    /** Complex eigenvalues [..., mdim] as real and imaginary parts. */
    public record Eigenvalues(double[] re, double[] im) {}

    public FactoredMatrix(double[] a, double[] b, int[] leadingShape, int ldim, int mdim, int rdim) {
        this.lead = leadingShape.clone();
        long n = 1;
        for (int d : lead) {
            if (d <= 0) throw new IllegalArgumentException("FactoredMatrix: leading dimension " + d + " in " + Arrays.toString(lead) + " must be > 0");
            n *= d;
        }
        if (ldim <= 0 || mdim <= 0 || rdim <= 0)
            throw new IllegalArgumentException("FactoredMatrix: dimensions ldim " + ldim + ", mdim " + mdim + ", rdim " + rdim + " must be > 0");
        if (n * ldim * mdim != a.length || n * mdim * rdim != b.length)
            throw new IllegalArgumentException("FactoredMatrix: A has " + a.length + " values and B " + b.length + ", expected "
                    + Arrays.toString(lead) + " x [" + ldim + ", " + mdim + "] and [" + mdim + ", " + rdim + "]");
        this.a = a;
        this.b = b;
        this.batch = (int) n;
        this.ldim = ldim;
        this.mdim = mdim;
        this.rdim = rdim;
    }

    /** A 2-D factored matrix from row-major factors. */
    public static FactoredMatrix of(double[][] A, double[][] B) {
        if (A.length == 0 || B.length == 0) throw new IllegalArgumentException("FactoredMatrix: empty factor");
        if (A[0].length != B.length)
            throw new IllegalArgumentException("Factored matrix must match on inner dimension, shapes were a: [" + A.length + ", "
                    + A[0].length + "], b: [" + B.length + ", " + B[0].length + "]");
        return new FactoredMatrix(flat(A), flat(B), new int[0], A.length, B.length, B[0].length);
    }

    /**
     * From tensors A [..., ldim, mdim] and B [..., mdim, rdim]; leading dimensions equal, or one factor 2-D and
     * broadcast over the other's (TL's broadcasting for these two cases).
     */
    public static FactoredMatrix of(Tensor A, Tensor B) {
        if (A.rank() < 2 || B.rank() < 2) throw new IllegalArgumentException("FactoredMatrix: factors need 2 or more dimensions, got "
                + A.describe() + " and " + B.describe());
        long[] sa = A.shape(), sb = B.shape();
        if (A.size(-1) != B.size(-2))
            throw new IllegalArgumentException("Factored matrix must match on inner dimension, shapes were a: " + Arrays.toString(sa)
                    + ", b: " + Arrays.toString(sb));
        long[] la = Arrays.copyOf(sa, sa.length - 2), lb = Arrays.copyOf(sb, sb.length - 2);
        long[] lead = la.length >= lb.length ? la : lb;
        if (la.length > 0 && lb.length > 0 && !Arrays.equals(la, lb))
            throw new IllegalArgumentException("FactoredMatrix: leading dimensions " + Arrays.toString(la) + " and " + Arrays.toString(lb)
                    + " differ (only equal ones, or a 2-D factor, are supported)");
        int[] li = new int[lead.length];
        long n = 1;
        for (int i = 0; i < lead.length; i++) { li[i] = Math.toIntExact(lead[i]); n *= lead[i]; }
        int l = (int) A.size(-2), m = (int) A.size(-1), r = (int) B.size(-1);
        return new FactoredMatrix(broadcast(A.toFloatArray(), la.length == 0, n), broadcast(B.toFloatArray(), lb.length == 0, n), li, l, m, r);
    }

    private static double[] broadcast(float[] f, boolean twoD, long n) {
        int per = f.length;
        double[] out = new double[Math.toIntExact(twoD ? per * n : per)];
        for (int i = 0; i < out.length; i++) out[i] = f[i % per];
        return out;
    }

    static double[] flat(double[][] x) {
        int cols = x[0].length;
        double[] out = new double[x.length * cols];
        for (int i = 0; i < x.length; i++) {
            if (x[i].length != cols) throw new IllegalArgumentException("ragged matrix: row " + i + " has " + x[i].length + " values, row 0 has " + cols);
            System.arraycopy(x[i], 0, out, i * cols, cols);
        }
        return out;
    }

    // ---------------------------------------------------------------- shape

    public int ldim() { return ldim; }
    public int mdim() { return mdim; }
    public int rdim() { return rdim; }
    /** Number of matrices: the product of the leading dimensions. */
    public int batchSize() { return batch; }
    public int[] leadingShape() { return lead.clone(); }
    /** TL's shape: leading dimensions + (ldim, rdim). */
    public int[] shape() {
        int[] s = Arrays.copyOf(lead, lead.length + 2);
        s[lead.length] = ldim;
        s[lead.length + 1] = rdim;
        return s;
    }
    public int ndim() { return lead.length + 2; }
    /** The factors (copies): A [..., ldim, mdim], B [..., mdim, rdim] (TL's pair). */
    public double[] A() { return a.clone(); }
    public double[] B() { return b.clone(); }

    // ---------------------------------------------------------------- products

    /** The product [..., ldim, rdim] (formed: ldim x rdim per matrix). */
    public double[] AB() {
        double[] out = new double[Math.multiplyExact(batch, ldim * rdim)];
        for (int i = 0; i < batch; i++)
            System.arraycopy(Lapack.gemm(false, false, ldim, rdim, mdim, Lapack.slice(a, i, ldim * mdim), Lapack.slice(b, i, mdim * rdim)),
                    0, out, i * ldim * rdim, ldim * rdim);
        return out;
    }

    /** The reverse product [..., mdim, mdim]; only when ldim == rdim. */
    public double[] BA() {
        if (ldim != rdim) throw new IllegalArgumentException("Can only take BA if ldim==rdim, shape was " + Arrays.toString(shape()));
        double[] out = new double[batch * mdim * mdim];
        for (int i = 0; i < batch; i++)
            System.arraycopy(Lapack.gemm(false, false, mdim, mdim, ldim, Lapack.slice(b, i, mdim * rdim), Lapack.slice(a, i, ldim * mdim)),
                    0, out, i * mdim * mdim, mdim * mdim);
        return out;
    }

    /** The transpose: (Bᵀ, Aᵀ). */
    public FactoredMatrix T() {
        double[] at = new double[b.length], bt = new double[a.length];
        for (int i = 0; i < batch; i++) {
            System.arraycopy(Lapack.transpose(Lapack.slice(b, i, mdim * rdim), mdim, rdim), 0, at, i * mdim * rdim, mdim * rdim);
            System.arraycopy(Lapack.transpose(Lapack.slice(a, i, ldim * mdim), ldim, mdim), 0, bt, i * ldim * mdim, ldim * mdim);
        }
        return new FactoredMatrix(at, bt, lead, rdim, mdim, ldim);
    }

    /** Scalar multiple (scales A, as TL). */
    public FactoredMatrix times(double scalar) {
        double[] as = a.clone();
        for (int i = 0; i < as.length; i++) as[i] *= scalar;
        return new FactoredMatrix(as, b, lead, ldim, mdim, rdim);
    }

    /**
     * self @ M for a matrix M [rdim, n] shared by every batch element; stays factored as TL keeps it: (A, B M)
     * when rdim > mdim, else (AB, M).
     */
    public FactoredMatrix matmul(double[][] other) {
        if (other.length != rdim)
            throw new IllegalArgumentException("Right matrix must match on inner dimension, shapes were self: " + Arrays.toString(shape())
                    + ", other: [" + other.length + ", " + (other.length == 0 ? 0 : other[0].length) + "]");
        double[] m = flat(other);
        int n = other[0].length;
        if (rdim > mdim) {
            double[] nb = new double[batch * mdim * n];
            for (int i = 0; i < batch; i++)
                System.arraycopy(Lapack.gemm(false, false, mdim, n, rdim, Lapack.slice(b, i, mdim * rdim), m), 0, nb, i * mdim * n, mdim * n);
            return new FactoredMatrix(a, nb, lead, ldim, mdim, n);
        }
        double[] nb = new double[batch * rdim * n];
        for (int i = 0; i < batch; i++) System.arraycopy(m, 0, nb, i * rdim * n, rdim * n);
        return new FactoredMatrix(AB(), nb, lead, ldim, rdim, n);
    }

    /** M @ self for M [n, ldim]: (M A, B) when ldim > mdim, else (M, AB). */
    public FactoredMatrix rmatmul(double[][] other) {
        if (other.length == 0 || other[0].length != ldim)
            throw new IllegalArgumentException("Left matrix must match on inner dimension, shapes were self: " + Arrays.toString(shape())
                    + ", other: [" + other.length + ", " + (other.length == 0 ? 0 : other[0].length) + "]");
        double[] m = flat(other);
        int n = other.length;
        if (ldim > mdim) {
            double[] na = new double[batch * n * mdim];
            for (int i = 0; i < batch; i++)
                System.arraycopy(Lapack.gemm(false, false, n, mdim, ldim, m, Lapack.slice(a, i, ldim * mdim)), 0, na, i * n * mdim, n * mdim);
            return new FactoredMatrix(na, b, lead, n, mdim, rdim);
        }
        double[] na = new double[batch * n * ldim];
        for (int i = 0; i < batch; i++) System.arraycopy(m, 0, na, i * n * ldim, n * ldim);
        return new FactoredMatrix(na, AB(), lead, n, ldim, rdim);
    }

    /** self @ other for a 2-D other (TL: (self @ other.A) @ other.B). */
    public FactoredMatrix matmul(FactoredMatrix other) {
        if (other.lead.length != 0) throw new IllegalArgumentException("matmul: only a 2-D right-hand FactoredMatrix is supported, got "
                + Arrays.toString(other.shape()));
        return matmul(unflat(other.a, other.ldim, other.mdim)).matmul(unflat(other.b, other.mdim, other.rdim));
    }

    /** self @ v for a vector v [rdim]: [..., ldim] = A (B v). */
    public double[] matvec(double[] v) {
        if (v.length != rdim) throw new IllegalArgumentException("vector has " + v.length + " values, rdim is " + rdim);
        double[] out = new double[batch * ldim];
        for (int i = 0; i < batch; i++) {
            double[] bv = Lapack.gemm(false, false, mdim, 1, rdim, Lapack.slice(b, i, mdim * rdim), v);
            System.arraycopy(Lapack.gemm(false, false, ldim, 1, mdim, Lapack.slice(a, i, ldim * mdim), bv), 0, out, i * ldim, ldim);
        }
        return out;
    }

    /** v @ self for a vector v [ldim]: [..., rdim] = (v A) B. */
    public double[] vecmat(double[] v) {
        if (v.length != ldim) throw new IllegalArgumentException("vector has " + v.length + " values, ldim is " + ldim);
        double[] out = new double[batch * rdim];
        for (int i = 0; i < batch; i++) {
            double[] va = Lapack.gemm(false, false, 1, mdim, ldim, v, Lapack.slice(a, i, ldim * mdim));
            System.arraycopy(Lapack.gemm(false, false, 1, rdim, mdim, va, Lapack.slice(b, i, mdim * rdim)), 0, out, i * rdim, rdim);
        }
        return out;
    }

    /** Batch element i (flat index over the leading dimensions) as a 2-D factored matrix. */
    public FactoredMatrix element(int flatIndex) {
        if (flatIndex < 0 || flatIndex >= batch) throw new IllegalArgumentException("index " + flatIndex + " is outside 0.." + (batch - 1));
        return new FactoredMatrix(Lapack.slice(a, flatIndex, ldim * mdim), Lapack.slice(b, flatIndex, mdim * rdim), new int[0], ldim, mdim, rdim);
    }

    /** Indexing into the leading dimensions, e.g. ov.get(layer, head): fewer indices keep the remaining leading dimensions. */
    public FactoredMatrix get(int... index) {
        if (index.length > lead.length)
            throw new IllegalArgumentException(Arrays.toString(index) + " is too long an index for a FactoredMatrix with shape " + Arrays.toString(shape()));
        int first = 0, count = batch;
        for (int d = 0; d < index.length; d++) {
            if (index[d] < 0 || index[d] >= lead[d])
                throw new IllegalArgumentException("index " + index[d] + " is outside 0.." + (lead[d] - 1) + " in dimension " + d);
            count /= lead[d];
            first += index[d] * count;
        }
        int[] rest = Arrays.copyOfRange(lead, index.length, lead.length);
        return new FactoredMatrix(Arrays.copyOfRange(a, first * ldim * mdim, (first + count) * ldim * mdim),
                Arrays.copyOfRange(b, first * mdim * rdim, (first + count) * mdim * rdim), rest, ldim, mdim, rdim);
    }

    // ---------------------------------------------------------------- spectra

    /**
     * TL's svd: U Σ Vhᵀ = AB from the SVDs of A and B and of the small middle matrix Sa Vaᵀ Ub Sb. Singular vectors
     * are unique only up to sign (and rotation within repeated values), so compare S, or U diag(S) Vhᵀ.
     */
    public synchronized Svd svd() {
        if (svd != null) return svd;
        Lapack.requireFinite(a, "FactoredMatrix A");
        Lapack.requireFinite(b, "FactoredMatrix B");
        int k = Math.min(ldim, Math.min(mdim, rdim));
        double[] U = new double[batch * ldim * k], S = new double[batch * k], V = new double[batch * rdim * k];
        for (int i = 0; i < batch; i++) {
            Lapack.Svd sa = Lapack.svd(Lapack.slice(a, i, ldim * mdim), ldim, mdim);   // Ua [l, ka], Va [m, ka]
            Lapack.Svd sb = Lapack.svd(Lapack.slice(b, i, mdim * rdim), mdim, rdim);   // Ub [m, kb], Vb [r, kb]
            int ka = sa.p(), kb = sb.p();
            double[] middle = Lapack.gemm(true, false, ka, kb, mdim, sa.v(), sb.u());  // Vaᵀ Ub [ka, kb]
            for (int x = 0; x < ka; x++) for (int y = 0; y < kb; y++) middle[x * kb + y] *= sa.s()[x] * sb.s()[y];
            Lapack.Svd sm = Lapack.svd(middle, ka, kb);                                // Um [ka, k], Vm [kb, k]
            System.arraycopy(Lapack.gemm(false, false, ldim, k, ka, sa.u(), sm.u()), 0, U, i * ldim * k, ldim * k);
            System.arraycopy(sm.s(), 0, S, i * k, k);
            System.arraycopy(Lapack.gemm(false, false, rdim, k, kb, sb.v(), sm.v()), 0, V, i * rdim * k, rdim * k);
        }
        svd = new Svd(U, S, V, k);
        return svd;
    }

    public double[] U() { return svd().U().clone(); }
    public double[] S() { return svd().S().clone(); }
    public double[] Vh() { return svd().Vh().clone(); }

    /** Eigenvalues of AB, as TL computes them: those of BA [..., mdim] (AB's others are zero); needs ldim == rdim. */
    public Eigenvalues eigenvalues() {
        double[] ba = BA();
        double[] re = new double[batch * mdim], im = new double[batch * mdim];
        for (int i = 0; i < batch; i++) {
            double[][] e = Lapack.eigenvalues(Lapack.slice(ba, i, mdim * mdim), mdim);
            System.arraycopy(e[0], 0, re, i * mdim, mdim);
            System.arraycopy(e[1], 0, im, i * mdim, mdim);
        }
        return new Eigenvalues(re, im);
    }

    /** Frobenius norm per matrix [...]: sqrt of the summed squared singular values. */
    public double[] norm() {
        Svd s = svd();
        double[] out = new double[batch];
        for (int i = 0; i < batch; i++) {
            double t = 0;
            for (int j = 0; j < s.k(); j++) t += s.S()[i * s.k() + j] * s.S()[i * s.k() + j];
            out[i] = Math.sqrt(t);
        }
        return out;
    }

    /** TL's collapse_l: diag(S) Vhᵀ [..., k, rdim] (A's orthogonal factor removed). */
    public double[] collapseL() {
        Svd s = svd();
        int k = s.k();
        double[] out = new double[batch * k * rdim];
        for (int i = 0; i < batch; i++)
            for (int x = 0; x < k; x++)
                for (int r = 0; r < rdim; r++) out[(i * k + x) * rdim + r] = s.S()[i * k + x] * s.Vh()[(i * rdim + r) * k + x];
        return out;
    }

    /** TL's collapse_r: U diag(S) [..., ldim, k]. */
    public double[] collapseR() {
        Svd s = svd();
        int k = s.k();
        double[] out = new double[batch * ldim * k];
        for (int i = 0; i < batch; i++)
            for (int l = 0; l < ldim; l++)
                for (int x = 0; x < k; x++) out[(i * ldim + l) * k + x] = s.U()[(i * ldim + l) * k + x] * s.S()[i * k + x];
        return out;
    }

    /** TL's make_even: the same product as (U sqrt(S), sqrt(S) Vhᵀ), each half orthogonal with half the spectrum. */
    public FactoredMatrix makeEven() {
        Svd s = svd();
        int k = s.k();
        double[] na = new double[batch * ldim * k], nb = new double[batch * k * rdim];
        for (int i = 0; i < batch; i++)
            for (int x = 0; x < k; x++) {
                double r = Math.sqrt(s.S()[i * k + x]);
                for (int l = 0; l < ldim; l++) na[(i * ldim + l) * k + x] = s.U()[(i * ldim + l) * k + x] * r;
                for (int c = 0; c < rdim; c++) nb[(i * k + x) * rdim + c] = r * s.Vh()[(i * rdim + c) * k + x];
            }
        return new FactoredMatrix(na, nb, lead, ldim, k, rdim);
    }

    /**
     * TL's get_corner(k): the product's top-left corner, cut to the first k indices of every dimension (leading ones
     * included, as TL's utils.get_corner does); shape min(k, dim) per dimension, row-major.
     */
    public double[] getCorner(int k) {
        if (k <= 0) throw new IllegalArgumentException("get_corner: k must be > 0, got " + k);
        int[] shape = shape(), cut = new int[shape.length];
        int n = 1;
        for (int d = 0; d < shape.length; d++) { cut[d] = Math.min(k, shape[d]); n *= cut[d]; }
        int kl = cut[cut.length - 2], kr = cut[cut.length - 1];
        double[] out = new double[n];
        int[] idx = new int[lead.length];
        for (int o = 0; o < n / (kl * kr); o++) {
            int rem = o, flat = 0, stride = 1;
            for (int d = lead.length - 1; d >= 0; d--) { idx[d] = rem % cut[d]; rem /= cut[d]; }
            for (int d = lead.length - 1; d >= 0; d--) { flat += idx[d] * stride; stride *= lead[d]; }
            for (int x = 0; x < kl; x++)
                for (int y = 0; y < kr; y++) {
                    double s = 0;
                    for (int j = 0; j < mdim; j++) s += a[(flat * ldim + x) * mdim + j] * b[(flat * mdim + j) * rdim + y];
                    out[(o * kl + x) * kr + y] = s;
                }
        }
        return out;
    }

    private static double[][] unflat(double[] x, int rows, int cols) {
        double[][] out = new double[rows][];
        for (int i = 0; i < rows; i++) out[i] = Arrays.copyOfRange(x, i * cols, (i + 1) * cols);
        return out;
    }

    @Override public String toString() { return "FactoredMatrix: Shape(" + Arrays.toString(shape()) + "), Hidden Dim(" + mdim + ")"; }
}
