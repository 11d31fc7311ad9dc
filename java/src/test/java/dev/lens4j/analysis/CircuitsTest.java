package dev.lens4j.analysis;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lens4j.load.LoadOptions;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * FactoredMatrix, per-head OV / QK circuits and composition scores against TransformerLens 2.12's own model.OV,
 * model.QK, FactoredMatrix methods and all_composition_scores on the same weights (scripts/fixtures/
 * make_circuit_fixtures.py: a GPT-2-style model and a Llama-style one with grouped-query attention and rotary), and
 * FactoredMatrix's identities against products formed in plain Java.
 */
class CircuitsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    static Path fixture(String name) throws Exception {
        return Path.of(CircuitsTest.class.getResource("/dev/lens4j/analysis/circuits/" + name + "/model.pth").toURI());
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "llama-gqa"})
    void circuitsMatchTransformerLens(String name) throws Exception {
        Path pth = fixture(name);
        JsonNode fx = JSON.readTree(pth.resolveSibling("circuits.json").toFile());
        long before = Tensor.liveBytes();
        try (HookedTransformer model = HookedTransformer.fromPretrained(pth, null, LoadOptions.defaults(), null)) {
            checkFactored(fx.get("OV"), Circuits.OV(model), "OV");
            checkFactored(fx.get("QK"), Circuits.QK(model), "QK");
            // one layer's circuit is that layer's slice of the whole
            assertArrayEquals(Circuits.OV(model).get(1).S(), Circuits.OV(model, 1).S(), 1e-12);
            for (Circuits.Composition mode : Circuits.Composition.values()) {
                double[] tl = flatten(fx.get("composition_" + mode));
                double[] ours = Circuits.allCompositionScores(model, mode);
                assertEquals(tl.length, ours.length);
                int nonzero = 0;
                for (int i = 0; i < tl.length; i++) {
                    assertEquals(tl[i], ours[i], 2e-5, mode + " composition score at flat index " + i);
                    if (ours[i] != 0) nonzero++;
                }
                int L = model.cfg().nLayers, H = model.cfg().nHeads;
                assertEquals(H * H * L * (L - 1) / 2, nonzero, "only pairs with l1 < l2 are scored");
            }
        }
        assertEquals(before, Tensor.liveBytes());
    }

    private static void checkFactored(JsonNode tl, FactoredMatrix fm, String what) {
        assertArrayEquals(ints(tl.get("shape")), fm.shape(), what + " shape");
        // TL computes in float32: relative tolerance
        close(flatten(tl.get("S")), fm.S(), what + " singular values");
        close(flatten(tl.get("norm")), fm.norm(), what + " Frobenius norms");
        close(flatten(tl.get("corner3")), fm.getCorner(3), what + " get_corner(3)");
        close(flatten(tl.get("AB_1_2")), fm.get(1, 2).AB(), what + "[1, 2].AB");
        // eigenvalues: the same multiset per head (LAPACK's order may differ between float and double)
        double[] re = flatten(tl.get("eig_re")), im = flatten(tl.get("eig_im"));
        FactoredMatrix.Eigenvalues ev = fm.eigenvalues();
        int m = fm.mdim();
        for (int b = 0; b < fm.batchSize(); b++) {
            List<double[]> a = new ArrayList<>(), c = new ArrayList<>();
            for (int j = 0; j < m; j++) {
                a.add(new double[] {re[b * m + j], im[b * m + j]});
                c.add(new double[] {ev.re()[b * m + j], ev.im()[b * m + j]});
            }
            sortComplex(a);
            sortComplex(c);
            for (int j = 0; j < m; j++) {
                double tol = 2e-5 * Math.max(1, Math.hypot(a.get(j)[0], a.get(j)[1]));
                assertEquals(a.get(j)[0], c.get(j)[0], tol, what + " eigenvalue (re) of matrix " + b);
                assertEquals(a.get(j)[1], c.get(j)[1], tol, what + " eigenvalue (im) of matrix " + b);
            }
        }
    }

    private static void close(double[] expected, double[] actual, String what) {
        assertEquals(expected.length, actual.length, what + " length");
        for (int i = 0; i < expected.length; i++)
            assertEquals(expected[i], actual[i], 2e-5 * Math.max(1, Math.abs(expected[i])), what + " at flat index " + i);
    }

    private static void sortComplex(List<double[]> z) {
        z.sort((x, y) -> Math.abs(x[0] - y[0]) > 1e-6 ? Double.compare(x[0], y[0]) : Double.compare(x[1], y[1]));
    }

    // ---------------------------------------------------------------- identities in plain Java

    @Test
    void svdReconstructsTheProductWithOrthonormalFactors() {
        Random r = new Random(3);
        for (int[] dims : new int[][] {{7, 3, 5}, {4, 6, 4}, {3, 5, 8}}) {
            int l = dims[0], m = dims[1], n = dims[2];
            double[][] A = randn(r, l, m), B = randn(r, m, n);
            FactoredMatrix fm = FactoredMatrix.of(A, B);
            double[] ab = product(A, B);
            assertArrayEquals(ab, fm.AB(), 1e-12);
            FactoredMatrix.Svd s = fm.svd();
            int k = Math.min(l, Math.min(m, n));
            assertEquals(k, s.k());
            double[] rec = new double[l * n];
            for (int i = 0; i < l; i++)
                for (int j = 0; j < n; j++)
                    for (int x = 0; x < k; x++) rec[i * n + j] += s.U()[i * k + x] * s.S()[x] * s.Vh()[j * k + x];
            assertArrayEquals(ab, rec, 1e-10, "U diag(S) Vhᵀ = AB for " + Arrays.toString(dims));
            for (int x = 1; x < k; x++) assertTrue(s.S()[x - 1] >= s.S()[x], "descending");
            for (int x = 0; x < k; x++)
                for (int y = 0; y < k; y++) {
                    double uu = 0, vv = 0;
                    for (int i = 0; i < l; i++) uu += s.U()[i * k + x] * s.U()[i * k + y];
                    for (int j = 0; j < n; j++) vv += s.Vh()[j * k + x] * s.Vh()[j * k + y];
                    assertEquals(x == y ? 1 : 0, uu, 1e-10);
                    assertEquals(x == y ? 1 : 0, vv, 1e-10);
                }
            double fro = 0;
            for (double v : ab) fro += v * v;
            assertEquals(Math.sqrt(fro), fm.norm()[0], 1e-10);
            assertArrayEquals(ab, fm.makeEven().AB(), 1e-10, "make_even keeps the product");
            assertArrayEquals(Lapack.transpose(ab, l, n), fm.T().AB(), 1e-12);
            // collapse_l / collapse_r drop an orthogonal factor: norms are kept
            assertEquals(fm.norm()[0], frob(fm.collapseL()), 1e-10);
            assertEquals(fm.norm()[0], frob(fm.collapseR()), 1e-10);
            // products stay factored but equal the formed products
            double[][] M = randn(r, n, 2), N = randn(r, 3, l);
            assertArrayEquals(product(unflat(ab, l, n), M), fm.matmul(M).AB(), 1e-10);
            assertArrayEquals(product(N, unflat(ab, l, n)), fm.rmatmul(N).AB(), 1e-10);
            double[] v = randn(r, 1, n)[0];
            assertArrayEquals(product(unflat(ab, l, n), unflat(v, n, 1)), fm.matvec(v), 1e-10);
            assertEquals(2.5 * fm.norm()[0], fm.times(-2.5).norm()[0], 1e-10);
        }
    }

    @Test
    void eigenvaluesAreThoseOfTheProductIncludingComplexPairs() {
        // AB = Q R Qᵀ with R a rotation by 90° scaled by 2, and a third eigenvalue 3: eigenvalues ±2i and 3
        double c = Math.sqrt(0.5);
        double[][] Q = {{c, 0, 0}, {c, 0, 0}, {0, 1, 0}, {0, 0, 1}};                 // orthonormal columns, [4, 3]
        double[][] R = {{0, -2, 0}, {2, 0, 0}, {0, 0, 3}};
        double[][] B = new double[3][4];
        double[] rqt = product(R, transpose(Q));
        for (int i = 0; i < 3; i++) B[i] = Arrays.copyOfRange(rqt, i * 4, i * 4 + 4);
        FactoredMatrix.Eigenvalues ev = FactoredMatrix.of(Q, B).eigenvalues();
        List<double[]> z = new ArrayList<>();
        for (int i = 0; i < 3; i++) z.add(new double[] {ev.re()[i], ev.im()[i]});
        sortComplex(z);
        assertArrayEquals(new double[] {0, -2}, z.get(0), 1e-12);
        assertArrayEquals(new double[] {0, 2}, z.get(1), 1e-12);
        assertArrayEquals(new double[] {3, 0}, z.get(2), 1e-12);
    }

    @Test
    void compositionScoresAreNormRatiosOfTheFormedProducts() {
        Random r = new Random(11);
        FactoredMatrix left = new FactoredMatrix(flat(randn(r, 2 * 6, 3)), flat(randn(r, 2 * 3, 6)), new int[] {2}, 6, 3, 6);
        FactoredMatrix right = new FactoredMatrix(flat(randn(r, 3 * 6, 2)), flat(randn(r, 3 * 2, 6)), new int[] {3}, 6, 2, 6);
        double[] scores = Circuits.compositionScores(left, right);
        assertEquals(6, scores.length);
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++) {
                double[] m1 = left.element(i).AB(), m2 = right.element(j).AB();
                double expected = frob(product(unflat(m1, 6, 6), unflat(m2, 6, 6))) / frob(m1) / frob(m2);
                assertEquals(expected, scores[i * 3 + j], 1e-12);
            }
    }

    @Test
    void fromTensorsWithLeadingDimensionsAndBroadcasting() {
        float[] a = new float[2 * 3 * 4], b = new float[4 * 5];
        Random r = new Random(2);
        for (int i = 0; i < a.length; i++) a[i] = (float) r.nextGaussian();
        for (int i = 0; i < b.length; i++) b[i] = (float) r.nextGaussian();
        long before = Tensor.liveBytes();
        try (Tensor A = Tensor.of(a, 2, 3, 4); Tensor B = Tensor.of(b, 4, 5); Tensor B3 = Tensor.of(new float[2 * 4 * 6], 2, 4, 6);
             Tensor bad = Tensor.of(new float[3 * 4 * 5], 3, 4, 5)) {
            FactoredMatrix fm = FactoredMatrix.of(A, B);
            assertArrayEquals(new int[] {2, 3, 5}, fm.shape());
            assertEquals(3, fm.ndim());
            double[] ab = fm.AB();
            for (int i = 0; i < 2; i++)
                for (int x = 0; x < 3; x++)
                    for (int y = 0; y < 5; y++) {
                        double e = 0;
                        for (int m = 0; m < 4; m++) e += (double) a[(i * 3 + x) * 4 + m] * b[m * 5 + y];
                        assertEquals(e, ab[(i * 3 + x) * 5 + y], 1e-9, "B broadcast over the leading dimension");
                    }
            assertArrayEquals(new int[] {2, 3, 6}, FactoredMatrix.of(A, B3).shape());
            var e = assertThrows(IllegalArgumentException.class, () -> FactoredMatrix.of(A, bad));
            assertTrue(e.getMessage().contains("leading dimensions"), e.getMessage());
        }
        assertEquals(before, Tensor.liveBytes());
    }

    @Test
    void badInputIsRefusedWithAMessage() {
        var e = assertThrows(IllegalArgumentException.class, () -> FactoredMatrix.of(new double[2][3], new double[4][2]));
        assertTrue(e.getMessage().contains("inner dimension"), e.getMessage());
        FactoredMatrix nan = FactoredMatrix.of(new double[][] {{1, Double.NaN}}, new double[][] {{1}, {2}});
        e = assertThrows(IllegalArgumentException.class, nan::svd);
        assertTrue(e.getMessage().contains("not finite"), e.getMessage());
        FactoredMatrix rect = FactoredMatrix.of(new double[3][2], new double[2][4]);
        e = assertThrows(IllegalArgumentException.class, rect::BA);
        assertTrue(e.getMessage().contains("ldim==rdim"), e.getMessage());
        assertThrows(IllegalArgumentException.class, rect::eigenvalues);
        assertThrows(IllegalArgumentException.class, () -> rect.getCorner(0));
        assertThrows(IllegalArgumentException.class, () -> rect.get(0), "a 2-D matrix has no leading index");
        assertThrows(IllegalArgumentException.class, () -> new FactoredMatrix(new double[5], new double[6], new int[0], 2, 3, 2));
        assertThrows(IllegalArgumentException.class, () -> Circuits.compositionScores(rect, rect));
    }

    // ---------------------------------------------------------------- helpers

    static double[] flatten(JsonNode n) {
        List<Double> out = new ArrayList<>();
        flattenInto(n, out);
        return out.stream().mapToDouble(Double::doubleValue).toArray();
    }

    private static void flattenInto(JsonNode n, List<Double> out) {
        if (n.isArray()) for (JsonNode c : n) flattenInto(c, out);
        else out.add(n.asDouble());
    }

    private static int[] ints(JsonNode n) {
        int[] out = new int[n.size()];
        for (int i = 0; i < out.length; i++) out[i] = n.get(i).asInt();
        return out;
    }

    private static double[][] randn(Random r, int rows, int cols) {
        double[][] x = new double[rows][cols];
        for (double[] row : x) for (int j = 0; j < cols; j++) row[j] = r.nextGaussian();
        return x;
    }

    private static double[] flat(double[][] x) { return FactoredMatrix.flat(x); }

    private static double[] product(double[][] a, double[][] b) {
        int n = a.length, m = b.length, p = b[0].length;
        double[] out = new double[n * p];
        for (int i = 0; i < n; i++) for (int k = 0; k < m; k++) for (int j = 0; j < p; j++) out[i * p + j] += a[i][k] * b[k][j];
        return out;
    }

    private static double[][] transpose(double[][] a) {
        double[][] t = new double[a[0].length][a.length];
        for (int i = 0; i < a.length; i++) for (int j = 0; j < a[0].length; j++) t[j][i] = a[i][j];
        return t;
    }

    private static double[][] unflat(double[] x, int rows, int cols) {
        double[][] out = new double[rows][];
        for (int i = 0; i < rows; i++) out[i] = Arrays.copyOfRange(x, i * cols, (i + 1) * cols);
        return out;
    }

    private static double frob(double[] x) {
        double s = 0;
        for (double v : x) s += v * v;
        return Math.sqrt(s);
    }
}
