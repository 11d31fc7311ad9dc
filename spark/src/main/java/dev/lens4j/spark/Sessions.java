package dev.lens4j.spark;

import org.apache.spark.sql.SparkSession;

/** The SparkSession of a job: the one running already (tests, spark-shell), or a new one that the job stops. */
final class Sessions {
    private Sessions() {}

    /** "cluster" takes the master that spark-submit set; anything else is a master URL such as local[2]. */
    static SparkSession open(String master, String app) {
        if (master == null || master.isBlank()) throw new IllegalArgumentException("--spark needs a master: local[N], a cluster URL, or 'cluster' under spark-submit");
        var b = SparkSession.builder().appName(app).config("spark.ui.enabled", "false");
        if (!master.equals("cluster")) b.master(master);
        return b.getOrCreate();
    }

    static boolean isLocal(SparkSession s) { return s.sparkContext().isLocal(); }
}
