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
-- period's Brussels date applies. Variable `price` (EUR/MWh); result c€/kWh.
-- Numbers, + - * /, parentheses, min(), max(), round(x, n).
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
