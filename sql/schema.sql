-- lowi-p1 schema (MariaDB 10.11). The plugin runs these statements at every
-- connection, so they must stay idempotent (CREATE ... IF NOT EXISTS).
-- The reference program's columns come first, with its names and order, so
-- `SELECT DtTm, In_D, In_N, OUT_D, OUT_N, Soutire, Injecte FROM Conso` reads
-- like its table; energies are exact DECIMALs (kWh to the Wh) instead of FLOAT.

-- One row per meter and UTC quarter-hour [DtTm, DtTm + 15 min).
-- In_D, In_N, OUT_D, OUT_N: import day/night and export day/night indexes
-- (kWh) at DtTm + 15 min; Soutire, Injecte: kWh imported/exported in the
-- quarter; Gas_m3, Water_m3: consumption in the quarter (m3), NULL when the
-- meter reports none; Estimated: 1 when a boundary of the quarter was
-- interpolated across a reading gap or a counter discontinuity.
CREATE TABLE IF NOT EXISTS Conso (
  DtTm DATETIME NOT NULL,
  In_D DECIMAL(12,3) NOT NULL,
  In_N DECIMAL(12,3) NOT NULL,
  OUT_D DECIMAL(12,3) NOT NULL,
  OUT_N DECIMAL(12,3) NOT NULL,
  Soutire DECIMAL(10,3) NOT NULL,
  Injecte DECIMAL(10,3) NOT NULL,
  Serial VARCHAR(32) NOT NULL,
  Gas_m3 DECIMAL(10,3) NULL,
  Water_m3 DECIMAL(10,3) NULL,
  Estimated BOOLEAN NOT NULL DEFAULT 0,
  PRIMARY KEY (Serial, DtTm),
  KEY Conso_DtTm (DtTm)
) ENGINE=InnoDB;

-- Monthly import peak per meter (Flemish capacity tariff): Mois is the first
-- day of the Belgian (Europe/Brussels) calendar month, DtTm the UTC start of
-- the month's non-estimated quarter with the highest average import power
-- (the earliest of equal ones), kW = 4 x Soutire of that quarter. The plugin
-- recomputes it from Conso for each meter-month a batch touches; a month
-- without a non-estimated quarter has no row.
CREATE TABLE IF NOT EXISTS Pics (
  Mois DATE NOT NULL,
  DtTm DATETIME NOT NULL,
  kW DECIMAL(8,3) NOT NULL,
  Serial VARCHAR(32) NOT NULL,
  PRIMARY KEY (Serial, Mois)
) ENGINE=InnoDB;

-- Day-ahead market prices (EPEX SPOT Belgium), one row per market period:
-- DtTm is the UTC start of the period, Minutes its length (60 until delivery
-- day 2025-09-30, 15 from 2025-10-01); price in EUR/MWh; Buy and Sell in
-- c€/kWh from the contract formula in force on the period's Brussels date
-- (FormPxElectr), NULL while no valid formula applies. FormulaFp identifies
-- the formula text that computed Buy and Sell, so a changed or added formula
-- recomputes exactly the periods it governs.
CREATE TABLE IF NOT EXISTS PxElectr (
  DtTm DATETIME NOT NULL PRIMARY KEY,
  price DECIMAL(9,3) NOT NULL,
  Buy DECIMAL(12,5) NULL,
  Sell DECIMAL(12,5) NULL,
  Minutes TINYINT UNSIGNED NOT NULL,
  Source VARCHAR(16) NOT NULL,
  FormulaFp BIGINT UNSIGNED NULL
) ENGINE=InnoDB;

-- Contract formulas, dated: the row with the latest FromDt not after a
-- period's Brussels date applies. Variables `price` (the period's), `day_avg`
-- and `month_avg` (the time-weighted mean of its Brussels day and month so
-- far), all EUR/MWh; result c€/kWh. Numbers, + - * /, parentheses, min(),
-- max(), round(x, n).
CREATE TABLE IF NOT EXISTS FormPxElectr (
  FromDt DATE NOT NULL PRIMARY KEY,
  BuyFormula VARCHAR(255) NOT NULL,
  SellFormula VARCHAR(255) NOT NULL
) ENGINE=InnoDB;

-- First start only: the reference contract (EPEX + 2.04 EUR/MWh, 6 % VAT on
-- consumption, none on injection), which reproduces the reference table.
INSERT INTO FormPxElectr (FromDt, BuyFormula, SellFormula)
  SELECT '2020-01-01', '(price/10 + 0.204) * 1.06', 'price/10'
  FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM FormPxElectr);

-- Cost of each Conso quarter with the market period that covers it (an hour
-- until 2025-09-30, the quarter itself after): euros paid for the import
-- minus euros earned for the export.
CREATE VIEW IF NOT EXISTS ConsoCost AS
  SELECT c.Serial, c.DtTm, c.Soutire, c.Injecte,
         p.DtTm AS PriceDtTm, p.Minutes AS PriceMinutes, p.price, p.Buy, p.Sell,
         ROUND((c.Soutire * p.Buy - c.Injecte * p.Sell) / 100, 6) AS Cost_EUR
  FROM Conso c
  JOIN PxElectr p
    ON p.DtTm BETWEEN c.DtTm - INTERVAL 45 MINUTE AND c.DtTm
   AND c.DtTm < p.DtTm + INTERVAL p.Minutes MINUTE;

-- Capacity tariff rates, dated like FormPxElectr: EUR per kW of the billed
-- 12-month mean, per year. Dso names a grid operator ('' = every operator);
-- for a month the row with the latest FromDt not after its first day
-- applies, the meter's own operator's rows before the generic ones. The
-- plugin writes nothing here: the operator fills it.
CREATE TABLE IF NOT EXISTS CapaTarif (
  FromDt DATE NOT NULL,
  Dso VARCHAR(32) NOT NULL DEFAULT '',
  EUR_kW_year DECIMAL(12,6) NOT NULL,
  PRIMARY KEY (Dso, FromDt)
) ENGINE=InnoDB;

-- The grid operator of a meter, for per-operator rates; a meter without a
-- row here gets the generic ('') rates.
CREATE TABLE IF NOT EXISTS Meter (
  Serial VARCHAR(32) NOT NULL PRIMARY KEY,
  Dso VARCHAR(32) NOT NULL
) ENGINE=InnoDB;

-- The capacity part of each meter's monthly bill, per Pics row: the month's
-- peak, counted at least 2.5 kW (Billed_kW); the mean the month's bill uses,
-- over the billed peaks of that month and the 11 before, months without a
-- Pics row left out (Months says how many counted: the rule of
-- plugin/capacity.h, so SQL and the live figures agree); the rate in force
-- and the month's cost, a twelfth of the yearly rate times that mean. The
-- cost is taken from the exact sum (Mean_kW is rounded to the W); it is NULL
-- while no rate applies.
CREATE VIEW IF NOT EXISTS CapaMonth AS
  SELECT w.Serial, w.Mois, w.PeakDtTm, w.Peak_kW, w.Billed_kW, w.Months,
         ROUND(w.Sum_kW / w.Months, 3) AS Mean_kW,
         t.Dso AS TarifDso, t.FromDt AS TarifFromDt, t.EUR_kW_year,
         ROUND(w.Sum_kW * t.EUR_kW_year / (12 * w.Months), 6) AS Cost_EUR
  FROM (SELECT p.Serial, p.Mois, p.DtTm AS PeakDtTm, p.kW AS Peak_kW,
               GREATEST(p.kW, 2.5) AS Billed_kW,
               COUNT(*) AS Months, SUM(GREATEST(q.kW, 2.5)) AS Sum_kW
        FROM Pics p
        JOIN Pics q ON q.Serial = p.Serial
                   AND q.Mois BETWEEN p.Mois - INTERVAL 11 MONTH AND p.Mois
        GROUP BY p.Serial, p.Mois, p.DtTm, p.kW) w
  LEFT JOIN Meter m ON m.Serial = w.Serial
  LEFT JOIN CapaTarif t
    ON (t.Dso, t.FromDt) = (SELECT r.Dso, r.FromDt FROM CapaTarif r
                            WHERE r.FromDt <= w.Mois AND r.Dso IN ('', COALESCE(m.Dso, ''))
                            ORDER BY r.Dso = '', r.FromDt DESC LIMIT 1);

-- Each meter's Brussels month: the energy cost of its priced quarters
-- (ConsoCost) beside the capacity cost (CapaMonth), and their sum when both
-- are known. A quarter counts for the Brussels month of its start. Without
-- time-zone tables: Brussels months April to October begin at 22:00 UTC
-- (summer time holds from the last Sunday of March to the last Sunday of
-- October, 01:00 UTC, never across a month's first hours), the others at
-- 23:00 UTC, so a quarter belongs to the month of its start plus two hours
-- when that month is April to October, else to that of its start plus one.
CREATE VIEW IF NOT EXISTS ConsoMonth AS
  SELECT u.Serial, u.Mois,
         SUM(u.Quarters) AS Quarters,
         SUM(u.Soutire) AS Import_kWh, SUM(u.Injecte) AS Export_kWh,
         SUM(u.Energy_EUR) AS Energy_EUR,
         MAX(u.Peak_kW) AS Peak_kW, MAX(u.Mean_kW) AS Mean_kW,
         MAX(u.Capacity_EUR) AS Capacity_EUR,
         SUM(u.Energy_EUR) + MAX(u.Capacity_EUR) AS Total_EUR
  FROM (SELECT c.Serial,
               CAST(DATE_FORMAT(IF(MONTH(c.DtTm + INTERVAL 2 HOUR) BETWEEN 4 AND 10,
                                   c.DtTm + INTERVAL 2 HOUR, c.DtTm + INTERVAL 1 HOUR),
                                '%Y-%m-01') AS DATE) AS Mois,
               1 AS Quarters, c.Soutire, c.Injecte, c.Cost_EUR AS Energy_EUR,
               NULL AS Peak_kW, NULL AS Mean_kW, NULL AS Capacity_EUR
        FROM ConsoCost c
        UNION ALL
        SELECT k.Serial, k.Mois, 0, NULL, NULL, NULL, k.Peak_kW, k.Mean_kW, k.Cost_EUR
        FROM CapaMonth k) u
  GROUP BY u.Serial, u.Mois;

-- The grid operator's quarter-hour values (a Mijn Fluvius export loaded by
-- lowi-fluvius-import), keyed like Conso: Serial is the meter's serial in
-- Conso, DtTm the UTC start of the quarter. kWh per register, NULL where
-- the export has no value; Status is the operator's validation status
-- (Geschat when any register of the quarter is estimated), Estimated 1 then.
CREATE TABLE IF NOT EXISTS FluviusConso (
  Serial VARCHAR(32) NOT NULL,
  DtTm DATETIME NOT NULL,
  Afname_D DECIMAL(10,3) NULL,
  Afname_N DECIMAL(10,3) NULL,
  Injectie_D DECIMAL(10,3) NULL,
  Injectie_N DECIMAL(10,3) NULL,
  Status VARCHAR(32) NOT NULL,
  Estimated BOOLEAN NOT NULL DEFAULT 0,
  Ean VARCHAR(32) NOT NULL,
  PRIMARY KEY (Serial, DtTm)
) ENGINE=InnoDB;

-- Each quarter of each imported meter, lowi-p1's kWh (Conso) beside the
-- operator's (FluviusConso) and the difference (lowi-p1 minus operator):
-- every operator quarter, and every Conso quarter between the meter's first
-- and last operator quarter. A side without the quarter shows NULL.
CREATE VIEW IF NOT EXISTS FluviusQuarter AS
  SELECT f.Serial, f.DtTm,
         c.Soutire AS Lowi_Import_kWh, c.Injecte AS Lowi_Export_kWh, c.Estimated AS Lowi_Estimated,
         IF(f.Afname_D IS NULL AND f.Afname_N IS NULL, NULL,
            COALESCE(f.Afname_D, 0) + COALESCE(f.Afname_N, 0)) AS Dso_Import_kWh,
         IF(f.Injectie_D IS NULL AND f.Injectie_N IS NULL, NULL,
            COALESCE(f.Injectie_D, 0) + COALESCE(f.Injectie_N, 0)) AS Dso_Export_kWh,
         f.Status AS Dso_Status, f.Estimated AS Dso_Estimated,
         c.Soutire - (COALESCE(f.Afname_D, 0) + COALESCE(f.Afname_N, 0)) AS Diff_Import_kWh,
         c.Injecte - (COALESCE(f.Injectie_D, 0) + COALESCE(f.Injectie_N, 0)) AS Diff_Export_kWh
  FROM FluviusConso f
  LEFT JOIN Conso c ON c.Serial = f.Serial AND c.DtTm = f.DtTm
  UNION ALL
  SELECT c.Serial, c.DtTm, c.Soutire, c.Injecte, c.Estimated,
         NULL, NULL, NULL, NULL, NULL, NULL
  FROM (SELECT Serial, MIN(DtTm) AS First, MAX(DtTm) AS Last FROM FluviusConso GROUP BY Serial) s
  JOIN Conso c ON c.Serial = s.Serial AND c.DtTm BETWEEN s.First AND s.Last
  WHERE NOT EXISTS (SELECT 1 FROM FluviusConso f WHERE f.Serial = c.Serial AND f.DtTm = c.DtTm);

-- Per meter and Brussels month (a quarter counts for the month of its
-- start, computed as in ConsoMonth): each side's kWh and peak, and the
-- differences (lowi-p1 minus operator). Quarters counts FluviusQuarter's
-- rows; Lowi_Missing and Dso_Missing the quarters one side lacks;
-- Dso_Estimated the operator's estimated quarters; Differing the quarters
-- where both sides have the quarter and disagree. Lowi_Peak_kW is the
-- month's row in Pics; Dso_Peak_kW is 4 x the operator's highest quarter
-- import of the month.
CREATE VIEW IF NOT EXISTS FluviusMonth AS
  SELECT q.Serial, q.Mois,
         COUNT(*) AS Quarters,
         SUM(q.Lowi_Import_kWh IS NULL) AS Lowi_Missing,
         SUM(q.Dso_Status IS NULL) AS Dso_Missing,
         SUM(COALESCE(q.Dso_Estimated, 0)) AS Dso_Estimated,
         SUM(q.Diff_Import_kWh <> 0 OR q.Diff_Export_kWh <> 0) AS Differing,
         SUM(q.Lowi_Import_kWh) AS Lowi_Import_kWh, SUM(q.Dso_Import_kWh) AS Dso_Import_kWh,
         COALESCE(SUM(q.Lowi_Import_kWh), 0) - COALESCE(SUM(q.Dso_Import_kWh), 0) AS Diff_Import_kWh,
         SUM(q.Lowi_Export_kWh) AS Lowi_Export_kWh, SUM(q.Dso_Export_kWh) AS Dso_Export_kWh,
         COALESCE(SUM(q.Lowi_Export_kWh), 0) - COALESCE(SUM(q.Dso_Export_kWh), 0) AS Diff_Export_kWh,
         p.kW AS Lowi_Peak_kW, 4 * MAX(q.Dso_Import_kWh) AS Dso_Peak_kW,
         p.kW - 4 * MAX(q.Dso_Import_kWh) AS Diff_Peak_kW
  FROM (SELECT x.*,
               CAST(DATE_FORMAT(IF(MONTH(x.DtTm + INTERVAL 2 HOUR) BETWEEN 4 AND 10,
                                   x.DtTm + INTERVAL 2 HOUR, x.DtTm + INTERVAL 1 HOUR),
                                '%Y-%m-01') AS DATE) AS Mois
        FROM FluviusQuarter x) q
  LEFT JOIN Pics p ON p.Serial = q.Serial AND p.Mois = q.Mois
  GROUP BY q.Serial, q.Mois, p.kW;

-- The bill. The plugin writes nothing in these two tables: the operator
-- fills them from the tariff sheets, one row per change.
-- BillRate: each other line of the bill, dated like CapaTarif (Dso '' =
-- every operator; a meter's own operator's rows before the generic ones,
-- line by line). Per kWh the row in force on the quarter's Brussels date
-- applies: EUR_kWh per imported kWh (per day-register kWh when
-- Night_EUR_kWh is set), Night_EUR_kWh per night-register kWh,
-- Export_EUR_kWh per exported kWh; per month the row in force on the
-- month's first day: EUR_month. Vat: whether VAT is charged on the line.
-- Amounts exclude VAT.
CREATE TABLE IF NOT EXISTS BillRate (
  Line VARCHAR(48) NOT NULL,
  FromDt DATE NOT NULL,
  Dso VARCHAR(32) NOT NULL DEFAULT '',
  EUR_kWh DECIMAL(12,6) NOT NULL DEFAULT 0,
  Night_EUR_kWh DECIMAL(12,6) NULL,
  Export_EUR_kWh DECIMAL(12,6) NOT NULL DEFAULT 0,
  EUR_month DECIMAL(12,6) NOT NULL DEFAULT 0,
  Vat BOOLEAN NOT NULL DEFAULT 1,
  PRIMARY KEY (Line, Dso, FromDt)
) ENGINE=InnoDB;

-- BillVat: the VAT rate, the row in force on the month's first day.
-- BuyIncludesVat = 1 when the contract formulas' Buy already includes
-- that VAT (as the reference contract's does): the bill then takes it out
-- of the energy line and charges it with the others.
CREATE TABLE IF NOT EXISTS BillVat (
  FromDt DATE NOT NULL PRIMARY KEY,
  Vat_pct DECIMAL(5,2) NOT NULL,
  BuyIncludesVat BOOLEAN NOT NULL DEFAULT 0
) ENGINE=InnoDB;

-- Each Conso quarter as the bill counts it: its Brussels date (Jour) and
-- month, its import split between the meter's day and night registers, and
-- the Buy/Sell of its market period (NULL when none). Brussels time is
-- UTC+2 from the last Sunday of March to the last Sunday of October (both
-- 01:00 UTC), UTC+1 otherwise. The split is the change of In_D and In_N
-- since the meter's previous row: exact, the meter's own rate register
-- decides, and over a month the changes add up to the registers' own. When
-- those changes do not add up to Soutire (the meter's first row, a counter
-- discontinuity, rows removed by hand) the quarter is not split (Split 0)
-- and its import counts as day energy. The market period is the quarter's
-- own 15-minute one, else its hour's 60-minute one: the period ConsoCost
-- takes, found by key (a range join on a window's result reads every
-- period for every quarter).
CREATE VIEW IF NOT EXISTS BillQuarter AS
  SELECT q.Serial, q.DtTm, q.Jour, CAST(DATE_FORMAT(q.Jour, '%Y-%m-01') AS DATE) AS Mois,
         q.Soutire, q.Injecte,
         IF(q.Split, q.Day_d, q.Soutire) AS Day_kWh,
         IF(q.Split, q.Night_d, 0.000) AS Night_kWh,
         q.Split, IF(p.DtTm IS NULL, h.Buy, p.Buy) AS Buy, IF(p.DtTm IS NULL, h.Sell, p.Sell) AS Sell
  FROM (SELECT c.*,
               COALESCE(c.Day_d >= 0 AND c.Night_d >= 0 AND c.Day_d + c.Night_d = c.Soutire, 0) AS Split
        FROM (SELECT k.Serial, k.DtTm, k.Soutire, k.Injecte,
                     k.In_D - LAG(k.In_D) OVER (PARTITION BY k.Serial ORDER BY k.DtTm) AS Day_d,
                     k.In_N - LAG(k.In_N) OVER (PARTITION BY k.Serial ORDER BY k.DtTm) AS Night_d,
                     DATE(k.DtTm + INTERVAL IF(
                       k.DtTm >= CAST(CONCAT(YEAR(k.DtTm), '-03-31 01:00:00') AS DATETIME)
                                 - INTERVAL DAYOFWEEK(CONCAT(YEAR(k.DtTm), '-03-31')) - 1 DAY
                       AND k.DtTm < CAST(CONCAT(YEAR(k.DtTm), '-10-31 01:00:00') AS DATETIME)
                                 - INTERVAL DAYOFWEEK(CONCAT(YEAR(k.DtTm), '-10-31')) - 1 DAY,
                       2, 1) HOUR) AS Jour
              FROM Conso k) c) q
  LEFT JOIN PxElectr p ON p.DtTm = q.DtTm AND p.Minutes = 15
  LEFT JOIN PxElectr h ON h.DtTm = q.DtTm - INTERVAL MINUTE(q.DtTm) MINUTE AND h.Minutes = 60;

-- The lines of each meter's bill per Brussels month, VAT excluded, each
-- amount rounded to the cent as a bill prints it (NULL when not known).
-- Pos 1: the energy bought (import), from Buy, exact sum then rounded, VAT
-- taken out when Buy includes it; NULL while a quarter with import has no
-- Buy. Pos 2: the energy injected (export), from Sell, negative, no VAT;
-- only in a month with export. Pos 3: the capacity cost of CapaMonth, when
-- a rate applies. Pos 4: the BillRate lines: per kWh one line per rate row
-- in force during the month and per part (import, or day and night; export),
-- per month one; lines whose rate is 0 are left out.
CREATE VIEW IF NOT EXISTS BillLine AS
  SELECT e.Serial, e.Mois, 1 AS Pos, 'Energy' AS Line, 'import' AS Part,
         CAST(NULL AS DATE) AS FromDt, CAST(NULL AS CHAR(32)) AS Dso,
         e.Import_kWh AS Qty, 'kWh' AS Unit, CAST(NULL AS DECIMAL(16,6)) AS Rate_EUR, 1 AS Vat,
         IF(e.Unpriced > 0, NULL,
            ROUND(e.Buy_cEUR / 100 / IF(COALESCE(v.BuyIncludesVat, 0), 1 + v.Vat_pct / 100, 1), 2)) AS Amount_EUR
  FROM (SELECT Serial, Mois, SUM(Soutire) AS Import_kWh, SUM(Soutire * Buy) AS Buy_cEUR,
               SUM(Buy IS NULL AND Soutire > 0) AS Unpriced
        FROM BillQuarter GROUP BY Serial, Mois) e
  LEFT JOIN BillVat v ON v.FromDt = (SELECT MAX(w.FromDt) FROM BillVat w WHERE w.FromDt <= e.Mois)
  UNION ALL
  SELECT Serial, Mois, 2, 'Energy', 'export', NULL, NULL, SUM(Injecte), 'kWh', NULL, 0,
         IF(SUM(Sell IS NULL AND Injecte > 0) > 0, NULL, -ROUND(SUM(Injecte * Sell) / 100, 2))
  FROM BillQuarter GROUP BY Serial, Mois HAVING SUM(Injecte) > 0
  UNION ALL
  SELECT Serial, Mois, 3, 'Capacity', 'mean', TarifFromDt, TarifDso, Mean_kW, 'kW',
         ROUND(EUR_kW_year / 12, 6), 1, ROUND(Cost_EUR, 2)
  FROM CapaMonth WHERE Cost_EUR IS NOT NULL
  UNION ALL
  SELECT g.Serial, g.Mois, 4, g.Line,
         CASE n.n WHEN 1 THEN IF(g.Night_EUR_kWh IS NULL, 'import', 'day') WHEN 2 THEN 'night' ELSE 'export' END,
         g.FromDt, g.Dso,
         CASE n.n WHEN 1 THEN IF(g.Night_EUR_kWh IS NULL, g.Day_kWh + g.Night_kWh, g.Day_kWh)
                  WHEN 2 THEN g.Night_kWh ELSE g.Export_kWh END,
         'kWh',
         CASE n.n WHEN 1 THEN g.EUR_kWh WHEN 2 THEN g.Night_EUR_kWh ELSE g.Export_EUR_kWh END,
         g.Vat,
         ROUND(CASE n.n WHEN 1 THEN IF(g.Night_EUR_kWh IS NULL, g.Day_kWh + g.Night_kWh, g.Day_kWh) * g.EUR_kWh
                        WHEN 2 THEN g.Night_kWh * g.Night_EUR_kWh ELSE g.Export_kWh * g.Export_EUR_kWh END, 2)
  FROM (SELECT d.Serial, d.Mois, r.Line, r.FromDt, r.Dso, r.EUR_kWh, r.Night_EUR_kWh, r.Export_EUR_kWh, r.Vat,
               SUM(d.Day_kWh) AS Day_kWh, SUM(d.Night_kWh) AS Night_kWh, SUM(d.Export_kWh) AS Export_kWh
        FROM (SELECT Serial, Jour, Mois, SUM(Day_kWh) AS Day_kWh, SUM(Night_kWh) AS Night_kWh,
                     SUM(Injecte) AS Export_kWh
              FROM BillQuarter GROUP BY Serial, Jour, Mois) d
        LEFT JOIN Meter m ON m.Serial = d.Serial
        JOIN (SELECT DISTINCT Line FROM BillRate) l
        JOIN BillRate r
          ON (r.Line, r.Dso, r.FromDt) = (SELECT b.Line, b.Dso, b.FromDt FROM BillRate b
                                          WHERE b.Line = l.Line AND b.FromDt <= d.Jour
                                            AND b.Dso IN ('', COALESCE(m.Dso, ''))
                                          ORDER BY b.Dso = '', b.FromDt DESC LIMIT 1)
        GROUP BY d.Serial, d.Mois, r.Line, r.FromDt, r.Dso, r.EUR_kWh, r.Night_EUR_kWh, r.Export_EUR_kWh,
                 r.Vat) g
  JOIN (SELECT 1 AS n UNION ALL SELECT 2 UNION ALL SELECT 3) n
    ON CASE n.n WHEN 1 THEN g.EUR_kWh <> 0 WHEN 2 THEN COALESCE(g.Night_EUR_kWh, 0) <> 0
                ELSE g.Export_EUR_kWh <> 0 END
  UNION ALL
  SELECT f.Serial, f.Mois, 4, r.Line, 'month', r.FromDt, r.Dso, 1, 'month', r.EUR_month, r.Vat,
         ROUND(r.EUR_month, 2)
  FROM (SELECT DISTINCT Serial, Mois FROM BillQuarter) f
  LEFT JOIN Meter m ON m.Serial = f.Serial
  JOIN (SELECT DISTINCT Line FROM BillRate) l
  JOIN BillRate r
    ON (r.Line, r.Dso, r.FromDt) = (SELECT b.Line, b.Dso, b.FromDt FROM BillRate b
                                    WHERE b.Line = l.Line AND b.FromDt <= f.Mois
                                      AND b.Dso IN ('', COALESCE(m.Dso, ''))
                                    ORDER BY b.Dso = '', b.FromDt DESC LIMIT 1)
  WHERE r.EUR_month <> 0;

-- Each meter's bill per Brussels month: the quarters it counts (Unpriced:
-- those with energy but no Buy/Sell; Unsplit: those whose import was not
-- split between day and night), the sum of the lines of BillLine (VAT
-- excluded), the VAT on the sum of the lines that bear it, rounded to the
-- cent, and the total. Excl_VAT_EUR and Total_EUR are NULL while a line
-- is; VAT_EUR and Total_EUR while no BillVat row applies.
CREATE VIEW IF NOT EXISTS BillMonth AS
  SELECT b.Serial, b.Mois, s.Quarters, s.Unpriced, s.Unsplit,
         s.Import_kWh, s.Day_kWh, s.Night_kWh, s.Export_kWh,
         b.Line_count, b.Excl_VAT_EUR, v.Vat_pct,
         ROUND(b.Vat_base_EUR * v.Vat_pct / 100, 2) AS VAT_EUR,
         b.Excl_VAT_EUR + ROUND(b.Vat_base_EUR * v.Vat_pct / 100, 2) AS Total_EUR
  FROM (SELECT Serial, Mois, COUNT(*) AS Line_count,
               IF(COUNT(Amount_EUR) = COUNT(*), SUM(Amount_EUR), NULL) AS Excl_VAT_EUR,
               IF(COUNT(Amount_EUR) = COUNT(*), SUM(IF(Vat, Amount_EUR, 0)), NULL) AS Vat_base_EUR
        FROM BillLine GROUP BY Serial, Mois) b
  LEFT JOIN (SELECT Serial, Mois, COUNT(*) AS Quarters,
                    SUM((Buy IS NULL AND Soutire > 0) OR (Sell IS NULL AND Injecte > 0)) AS Unpriced,
                    SUM(NOT Split) AS Unsplit,
                    SUM(Soutire) AS Import_kWh, SUM(Day_kWh) AS Day_kWh, SUM(Night_kWh) AS Night_kWh,
                    SUM(Injecte) AS Export_kWh
             FROM BillQuarter GROUP BY Serial, Mois) s
    ON s.Serial = b.Serial AND s.Mois = b.Mois
  LEFT JOIN BillVat v ON v.FromDt = (SELECT MAX(w.FromDt) FROM BillVat w WHERE w.FromDt <= b.Mois);

-- Which price worker fetches prices for this database: with several
-- brokers writing to one database (or one Galera cluster), one at a time
-- does, the others read what it stores. GET_LOCK cannot be used: a lock
-- taken on one Galera node is unknown to the others. This row is a lease
-- instead, taken and renewed by a conditional UPDATE, which Galera
-- replicates and certifies like any write, so two nodes cannot both grant
-- it. Holder: host name, process id and a random tag of the broker;
-- Since: when it took the job; Until: when the lease lapses unless
-- renewed (UTC, the database server's clock).
CREATE TABLE IF NOT EXISTS PriceFetcher (
  Id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
  Holder VARCHAR(100) NOT NULL,
  Since DATETIME(3) NOT NULL,
  Until DATETIME(3) NOT NULL
) ENGINE=InnoDB;

INSERT IGNORE INTO PriceFetcher VALUES (1, '', '1970-01-01', '1970-01-01');
