/** Static vocabulary for the synthetic shop. Changing any list changes every generated shop. */

export const CATEGORIES = [
  'electronics',
  'books',
  'home',
  'garden',
  'toys',
  'fashion',
  'sports',
  'beauty',
] as const;

/** Price range in cents per category, for plausible baskets. */
export const CATEGORY_PRICE_CENTS: Record<string, [number, number]> = {
  electronics: [1999, 89999],
  books: [499, 4999],
  home: [799, 24999],
  garden: [599, 19999],
  toys: [499, 9999],
  fashion: [999, 19999],
  sports: [999, 29999],
  beauty: [399, 7999],
};

export const PRODUCT_NOUNS: Record<string, readonly string[]> = {
  electronics: ['Headphones', 'Charger', 'Speaker', 'Keyboard', 'Monitor', 'Webcam', 'Router', 'Smartwatch'],
  books: ['Cookbook', 'Novel', 'Atlas', 'Field Guide', 'Biography', 'Poetry Collection', 'Workbook'],
  home: ['Lamp', 'Kettle', 'Pillow', 'Blanket', 'Vase', 'Clock', 'Frying Pan', 'Mug Set'],
  garden: ['Hose', 'Planter', 'Shears', 'Bird Feeder', 'Watering Can', 'Seed Kit', 'Gloves'],
  toys: ['Puzzle', 'Building Set', 'Plush Bear', 'Kite', 'Board Game', 'Toy Train', 'Yo-yo'],
  fashion: ['Scarf', 'Sneakers', 'Jacket', 'Backpack', 'Belt', 'Sunglasses', 'Beanie'],
  sports: ['Yoga Mat', 'Dumbbells', 'Water Bottle', 'Tennis Racket', 'Bike Light', 'Jump Rope'],
  beauty: ['Face Cream', 'Shampoo', 'Lip Balm', 'Perfume', 'Hand Soap', 'Sunscreen'],
};

export const ADJECTIVES = [
  'Classic',
  'Compact',
  'Deluxe',
  'Eco',
  'Everyday',
  'Premium',
  'Pocket',
  'Pro',
  'Rustic',
  'Smart',
  'Soft',
  'Sturdy',
  'Travel',
  'Ultra',
  'Vintage',
  'Nordic',
] as const;

export const FIRST_NAMES = [
  'Anna',
  'Ben',
  'Chloe',
  'David',
  'Emma',
  'Felix',
  'Greta',
  'Hugo',
  'Ines',
  'Jonas',
  'Karin',
  'Luca',
  'Maya',
  'Noah',
  'Olga',
  'Paul',
  'Quinn',
  'Rosa',
  'Sami',
  'Tara',
  'Umar',
  'Vera',
  'Wim',
  'Yara',
  'Zoe',
] as const;

export const LAST_NAMES = [
  'Andersen',
  'Becker',
  'Costa',
  'Dubois',
  'Eriksson',
  'Fischer',
  'Garcia',
  'Horvat',
  'Ivanova',
  'Jensen',
  'Kowalski',
  'Lindqvist',
  'Meyer',
  'Novak',
  "O'Brien",
  'Petrov',
  'Rossi',
  'Schmidt',
  'Tanaka',
  'Urban',
  'Varga',
  'Weber',
  'Young',
  'Zimmermann',
] as const;

export const CITIES = [
  'Berlin',
  'Hamburg',
  'Munich',
  'Vienna',
  'Zurich',
  'Paris',
  'Lyon',
  'Madrid',
  'Lisbon',
  'Rome',
  'Milan',
  'Amsterdam',
  'Brussels',
  'Copenhagen',
  'Stockholm',
  'Oslo',
  'Helsinki',
  'Warsaw',
  'Prague',
  'Dublin',
] as const;

export const EMAIL_DOMAINS = ['example.com', 'example.org', 'example.net', 'mail.example'] as const;

export const SELLER_WORDS = [
  'Atlas',
  'Bright',
  'Cedar',
  'Delta',
  'Ember',
  'Fjord',
  'Granite',
  'Harbor',
  'Iris',
  'Juniper',
] as const;
export const SELLER_SUFFIXES = ['Trading', 'Goods', 'Supply', 'Store', 'Works', 'Market'] as const;
export const COUNTRIES = [
  'DE',
  'AT',
  'CH',
  'FR',
  'ES',
  'PT',
  'IT',
  'NL',
  'BE',
  'DK',
  'SE',
  'NO',
  'FI',
  'PL',
  'CZ',
  'IE',
] as const;

export const CANCEL_REASONS = [
  'changed_mind',
  'found_cheaper',
  'delivery_too_slow',
  'ordered_by_mistake',
  'payment_problem',
] as const;

export const RATING_COMMENTS: Record<number, readonly string[]> = {
  1: ['Broke after a week.', 'Not as described.', 'Would not buy again.'],
  2: ['Disappointing quality.', 'Arrived damaged.', 'Meh.'],
  3: ['Does the job.', 'Okay for the price.', 'Average.'],
  4: ['Good value.', 'Works well.', 'Happy with it.'],
  5: ['Excellent!', 'Love it.', 'Exactly what I needed.', 'Five stars, fast delivery.'],
};

/**
 * Relative activity per UTC hour: quiet nights, a lunch bump and an evening peak (19-21 h).
 * Index = hour of day.
 */
export const HOURLY_WEIGHTS = [
  0.35,
  0.2,
  0.12,
  0.08,
  0.07,
  0.1,
  0.25,
  0.5,
  0.75,
  0.9,
  1.0,
  1.1, //
  1.3,
  1.2,
  1.05,
  1.0,
  1.05,
  1.2,
  1.5,
  1.9,
  2.1,
  1.9,
  1.3,
  0.7,
] as const;

/** Relative activity per UTC weekday (0 = Sunday): busier weekends, slow Monday/Tuesday. */
export const WEEKDAY_WEIGHTS = [1.3, 0.9, 0.92, 0.97, 1.0, 1.1, 1.35] as const;
